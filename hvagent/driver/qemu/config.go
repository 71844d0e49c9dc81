package qemu

import (
	"github.com/hvagent/hvagent/hvagent"
)

// Service names used by Config.
const (
	// ConfigService is the RPC service.
	ConfigService = "qemu"
	// ConfigConsoleService is the console stream endpoint: a stream stage
	// posts to its service's path.
	ConfigConsoleService = "qemuConsole"
)

// methods maps the VM actions the driver serves to its methods. Containers
// are not the driver's: their actions are left out.
var methods = map[string]string{
	hvagent.ActionCreate:      "CreateGuest",
	hvagent.ActionDelete:      "Delete",
	hvagent.ActionStart:       "Start",
	hvagent.ActionShutdown:    "Shutdown",
	hvagent.ActionReboot:      "Reboot",
	hvagent.ActionRestart:     "Restart",
	hvagent.ActionPoweroff:    "Poweroff",
	hvagent.ActionSuspend:     "Suspend",
	hvagent.ActionResume:      "Resume",
	hvagent.ActionCPUMetrics:  "CPUMetrics",
	hvagent.ActionDiskMetrics: "DiskMetrics",
	hvagent.ActionNicMetrics:  "NicMetrics",
	hvagent.ActionConsole:     "Console",
}

// Actions wires each VM action the driver serves to one stage calling its
// QEMU method on service "qemu" ("qemuConsole" for the console stream).
// Create and delete need the storage driver's stages too: its create stage
// before this one (it fills the disk sources), its delete stage after.
func Actions() map[string]hvagent.ActionConfig {
	actions := map[string]hvagent.ActionConfig{}
	for action, method := range methods {
		service := ConfigService
		if action == hvagent.ActionConsole {
			service = ConfigConsoleService
		}
		actions[action] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{
			{Service: service, Method: ServiceName + "." + method},
		}}
	}
	return actions
}

// Services returns the services Actions uses, both served by the built-in
// "qemu" handler (Config.Builtins["qemu"] = driver.Handler()).
func Services() map[string]hvagent.ServiceConfig {
	return map[string]hvagent.ServiceConfig{
		ConfigService:        {Builtin: "qemu"},
		ConfigConsoleService: {Builtin: "qemu", Path: ConsolePath},
	}
}
