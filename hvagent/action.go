package hvagent

import (
	"slices"
	"strings"
)

// ActionKind tells how an action runs.
type ActionKind int

// Action kinds.
const (
	// Info actions run synchronously and return JSON.
	Info ActionKind = iota
	// Stream actions run synchronously and return raw bytes.
	Stream
	// Async actions are queued as durable jobs, one at a time per guest.
	Async
)

// String returns "info", "stream" or "async".
func (k ActionKind) String() string {
	switch k {
	case Info:
		return "info"
	case Stream:
		return "stream"
	case Async:
		return "async"
	}
	return "unknown"
}

// Interrupt policies: what recovery does with a job found running.
const (
	// Requeue restarts the job at stage 1 (at-least-once).
	Requeue = "requeue"
	// Fail ends the job with an error (at-most-once).
	Fail = "fail"
)

// Action names of guest lifecycle actions. Each has a container variant
// ("container" + capitalized name) used for guests of type "container".
const (
	ActionCreate   = "create"
	ActionDelete   = "delete"
	ActionStart    = "start"
	ActionShutdown = "shutdown"
	ActionReboot   = "reboot"
	ActionRestart  = "restart"
	ActionPoweroff = "poweroff"
	ActionSuspend  = "suspend"
	ActionResume   = "resume"
)

// Other action names.
const (
	ActionCPUMetrics       = "cpuMetrics"
	ActionDiskMetrics      = "diskMetrics"
	ActionNicMetrics       = "nicMetrics"
	ActionListImages       = "listImages"
	ActionGetImage         = "getImage"
	ActionDeleteImage      = "deleteImage"
	ActionFetchImage       = "fetchImage"
	ActionListSnapshots    = "listSnapshots"
	ActionGetSnapshot      = "getSnapshot"
	ActionCreateSnapshot   = "createSnapshot"
	ActionDeleteSnapshot   = "deleteSnapshot"
	ActionRollbackSnapshot = "rollbackSnapshot"
	ActionDownloadSnapshot = "downloadSnapshot"
	ActionConsole          = "console"
)

// ContainerGuestType is the guest type that selects container actions.
const ContainerGuestType = "container"

// AgentGuestID is the GuestID of host-level jobs (images), as in the original.
const AgentGuestID = "agent"

// guestActions have container variants and take a guest.
var guestActions = []string{
	ActionCreate, ActionDelete, ActionStart, ActionShutdown, ActionReboot,
	ActionRestart, ActionPoweroff, ActionSuspend, ActionResume,
}

// imageActions have container variants and run on the host.
var imageActions = map[string]ActionKind{
	ActionListImages: Info, ActionGetImage: Info, ActionDeleteImage: Async, ActionFetchImage: Async,
}

// plainActions have no container variant.
var plainActions = map[string]ActionKind{
	ActionCPUMetrics: Info, ActionDiskMetrics: Info, ActionNicMetrics: Info,
	ActionListSnapshots: Info, ActionGetSnapshot: Info,
	ActionCreateSnapshot: Async, ActionDeleteSnapshot: Async, ActionRollbackSnapshot: Async,
	ActionDownloadSnapshot: Stream, ActionConsole: Stream,
}

// requeueActions are the actions whose interrupted jobs are requeued by default.
var requeueActions = map[string]bool{
	ActionStart: true, ActionShutdown: true, ActionPoweroff: true, ActionSuspend: true, ActionResume: true,
}

// actionKinds maps every valid action name to its kind.
var actionKinds = buildActionKinds()

func buildActionKinds() map[string]ActionKind {
	m := map[string]ActionKind{}
	for _, a := range guestActions {
		m[a] = Async
		m[ContainerAction(a)] = Async
	}
	for a, k := range imageActions {
		m[a] = k
		m[ContainerAction(a)] = k
	}
	for a, k := range plainActions {
		m[a] = k
	}
	return m
}

// ContainerAction returns the container variant of a base action name:
// "reboot" → "containerReboot".
func ContainerAction(base string) string {
	return "container" + strings.ToUpper(base[:1]) + base[1:]
}

// BaseAction returns the base name of a container action ("containerReboot"
// → "reboot") and the name itself for other actions.
func BaseAction(name string) string {
	rest, ok := strings.CutPrefix(name, "container")
	if !ok || rest == "" {
		return name
	}
	base := strings.ToLower(rest[:1]) + rest[1:]
	if _, valid := actionKinds[base]; valid {
		return base
	}
	return name
}

// GuestAction returns the action name for guest g: the container variant
// when g is a container and base has one.
func GuestAction(base string, g *Guest) string {
	if g == nil || g.Type != ContainerGuestType {
		return base
	}
	if _, ok := plainActions[base]; ok {
		return base
	}
	return ContainerAction(base)
}

// ImageAction returns the action name for an image of type typ.
func ImageAction(base, typ string) string {
	if typ == ContainerGuestType {
		return ContainerAction(base)
	}
	return base
}

// KindOf returns the kind of a valid action and false for unknown names.
func KindOf(action string) (ActionKind, bool) {
	k, ok := actionKinds[action]
	return k, ok
}

// ValidActions returns every valid action name.
func ValidActions() []string {
	names := make([]string, 0, len(actionKinds))
	for n := range actionKinds {
		names = append(names, n)
	}
	return names
}

// DefaultOnInterrupt returns the default interrupt policy of an action:
// Requeue for start, shutdown, poweroff, suspend and resume (and their
// container variants), Fail for all others.
func DefaultOnInterrupt(action string) string {
	if requeueActions[BaseAction(action)] {
		return Requeue
	}
	return Fail
}

// GuestActions returns the base actions that take a guest and have a
// container variant (create, delete, start, …), in a fixed order.
func GuestActions() []string { return slices.Clone(guestActions) }

// IsImageAction reports whether action (a base or container action) is a
// host-level image action.
func IsImageAction(action string) bool {
	_, ok := imageActions[BaseAction(action)]
	return ok
}

// MetricType returns the metrics type ("cpu", "disk" or "nic") of a metrics
// action, and "" for any other action.
func MetricType(action string) string { return metricTypes[action] }
