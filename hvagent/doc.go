// Package hvagent is a per-host hypervisor agent: it turns requests ("create
// this guest", "reboot it", "snapshot its disk") into pipelines of calls to
// sub-agents, the processes (or built-in drivers) that really drive QEMU,
// storage or containers. It is the successor of mistify-agent and keeps its
// REST paths, JSON shapes and sub-agent wire protocol.
//
// # Actions
//
// Every operation is a named action (see ValidActions) of one of three
// kinds. Info actions run synchronously and return JSON. Async actions are
// committed to a durable SQLite job log before Do returns and run one at a
// time per guest, in FIFO order; host-level image jobs run one at a time per
// image. Stream actions return raw bytes (snapshot downloads, the console).
//
// # Pipelines
//
// An action's pipeline is its ordered stages from the configuration; each
// stage calls one sub-agent method. The first error stops the pipeline and
// names the stage. Each stage's reply is decoded into a fresh value and
// validated (a sub-agent that returns no guest, or another guest, fails the
// stage) before it becomes the next stage's input; the guest is persisted
// after each stage, never with a changed ID, name or metadata.
//
// # Guest names
//
// A guest may have a Name, unique on the host: a DNS label (1 to 63 of a-z,
// 0-9 and -, not starting or ending with -) that does not parse as a UUID
// (ValidateGuestName). Every call that takes a guest takes its ID or its
// name (ParseGuestRef tells them apart); RenameGuest changes it. Jobs carry
// their guest's name in Job.GuestName, kept up to date by renames.
//
// # Bad input
//
// Do refuses a request it could not carry out before anything is stored,
// with an EINVALID error naming each bad field and the values it accepts,
// so that in-process callers, REST clients and hvctl see the same words. A
// create's guest must have a type of GuestTypes (or "", "kvm", "qemu": a
// VM), NICs with a model of NICModels and distinct unicast MACs, disks with
// a bus of DiskBuses and an image or a size, cpu and memory within what the
// host can give (Config.Host), and disk and container images the host has
// (asked of the getImage actions, when configured). Snapshot names follow
// CheckSnapshotName.
//
// # Job errors
//
// A job that ends in Error or Canceled records an error code word of the
// Error table in Job.Error: canceled (a caller's cancel, or its guest's
// deletion), timeout (its action's timeout), the code a sub-agent gave its
// failure (invalid, not_found or conflict; see subagent.WithCode), subagent
// for any other sub-agent failure, unavailable for a job failed because an
// agent restart or shutdown interrupted it, the code of the agent's own
// *Error (invalid, not_found, ...), and internal for the agent's own
// failures. The code does not change the job's message.
//
// # Durability
//
// A job survives kill -9 at any instant: every transition is one
// transaction with its event. On Start, jobs found running are requeued or
// failed by their action's on_interrupt policy, and queued jobs resume. A
// queue has at most one running job, which the database itself enforces:
// when recording a job's end fails, the agent retries it (with backoff,
// until it succeeds or the agent stops) and the job's queue waits.
//
// # Stuck stages
//
// A job's stage that runs past half its timeout is logged once at warn.
// When the job's context ends (its action's timeout, a cancel, Stop's
// deadline), its running stage has a second to return; one that ignores
// its context is abandoned: the job ends without it (timeout: "stage 2/3
// Sim.Start (sim) did not finish within the action's timeout (10m0s)") and
// its queue moves on, while the stage runs on in the background, its
// outcome unknown and its result dropped. RunningStages lists the stages
// in progress, abandoned ones included; Stop waits up to 2 s for abandoned
// stages, then logs those it leaves behind.
//
// # Wiring
//
// The package holds the domain types, the Agent, the Service seam (the
// Agent in-process, the REST Client remotely) and the REST handler; it
// imports no store and no driver. Programs wire them: open a store.DB, pass
// it and the built-in drivers in Config, then New, Start, Do, Stop, Close.
// See examples/embed and cmd/hvagentd.
//
// # Configuration
//
// Config holds only what the library reads: services, actions, the data
// dir and database, allowed paths, limits, durability, and the code-only
// store, builtins, logger, observer and clock. ParseConfig and LoadConfig
// read its JSON form strictly (an unknown key is an error naming the key
// and where it is), WithDefaults fills the defaults and Validate checks
// every value. A daemon's own settings (hvagentd's listeners, TLS, tokens,
// socket, logging, shutdown) are not Config's: hvagentd's config file holds
// them next to Config's keys in one JSON object and reads it with its own
// decoder, as strict.
package hvagent
