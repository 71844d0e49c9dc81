// Package qemu is the built-in QEMU driver: a sub-agent (service "QEMU")
// that runs one qemu-system-x86_64 per running guest.
//
// # Processes
//
// Start launches QEMU with -accel tcg (KVM only when configured and proven
// by a probe guest), -nodefaults -display none -sandbox on, -uuid and
// -name set to the guest ID, two QMP monitors on unix sockets in the
// guest's run dir (layout.MonitorSocket, which the driver keeps connected,
// and layout.StorageSocket for the storage driver's short connections),
// and -daemonize with a pidfile: QEMU runs in its own session and outlives
// the driver. QEMU starts paused and is resumed once the driver follows its
// events; with -no-shutdown it stays alive when the guest powers off, so
// the driver drains the console and reads the SHUTDOWN reason before
// telling it to quit.
//
// Disk n is attached as drive layout.DriveID(n) ("disk0", …) from its
// Source, which must lie under the data dir; boot kernels and initrds must
// lie under <data_dir>/images or Options.AllowedPaths. A NIC without a
// network (or with network "user") uses user-mode networking; a NIC naming
// a bridge gets a tap device added to that existing bridge.
//
// # Console
//
// The serial port writes into a 64 KiB ring buffer inside QEMU, which the
// driver drains into the run dir's console.log every 200 ms, capped at
// Options.ConsoleLogLimit (over the cap the log keeps its newest half).
// While no driver runs, output beyond the ring's newest 64 KiB is lost,
// but the log never grows. The console stream (ConsolePath) serves the log.
//
// An interactive session (Driver.AttachConsole, or a subagent.ConsoleRequest
// with Follow on the console stream) swaps the ring buffer for a unix
// socket in the run dir (QMP chardev-change): output read from it goes to
// the log and to every attached session as it comes, and input (Input
// requests, at most subagent.MaxConsoleInput bytes each) is written to
// it. When the last session closes the ring buffer is swapped back; a
// driver that died during a session swaps it back when it re-attaches.
// QEMU's ringbuf-write cannot be used for input: it writes into the ring
// (as if the guest had printed), not to the guest.
//
// # States and reconciliation
//
// Guests are shutoff, running, paused, shutdown (in progress) or crashed.
// The driver follows each QEMU through QMP events, QMP end of file and a
// pidfd; a QEMU that exits without being told to (killed, crashed) makes
// the guest crashed, reported through Options.OnState. After a restart,
// Reconcile re-attaches to every QEMU still running (pidfile checked
// against /proc/PID/cmdline and -uuid) and reports those that died.
//
// # Wiring
//
// An embedding program creates one Driver per data dir with New, serves
// Handler as the builtin "qemu" (Services and Actions wire the VM actions
// to it; the storage driver's create stage goes before this driver's,
// its delete stage after), and at start calls Reconcile, then starts the
// autostart guests it finds neither running nor paused (State tells). It
// records the state changes OnState reports, and calls Close when it
// stops; the guests keep running.
//
// # Errors
//
// Errors wrap the sentinels ErrInvalidGuest, ErrNotRunning, ErrNotPaused,
// ErrNotFound, ErrPathNotAllowed and ErrUnsupported; over the wire their
// text reads like "guest <id> is not running (state shutoff)".
package qemu
