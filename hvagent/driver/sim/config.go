package sim

import (
	"github.com/hvagent/hvagent/hvagent"
)

// Service names used by Config.
const (
	// ConfigService is the RPC service.
	ConfigService = "sim"
	// ConfigDownloadService and ConfigConsoleService are the stream
	// endpoints: a stream stage posts to its service's path.
	ConfigDownloadService = "simDownload"
	ConfigConsoleService  = "simConsole"
)

// baseMethods maps every base action to its method; container actions use
// the method of their base action.
var baseMethods = map[string]string{
	hvagent.ActionCreate:           "CreateGuest",
	hvagent.ActionDelete:           "Delete",
	hvagent.ActionStart:            "Start",
	hvagent.ActionShutdown:         "Shutdown",
	hvagent.ActionReboot:           "Reboot",
	hvagent.ActionRestart:          "Restart",
	hvagent.ActionPoweroff:         "Poweroff",
	hvagent.ActionSuspend:          "Suspend",
	hvagent.ActionResume:           "Resume",
	hvagent.ActionCPUMetrics:       "CPUMetrics",
	hvagent.ActionDiskMetrics:      "DiskMetrics",
	hvagent.ActionNicMetrics:       "NicMetrics",
	hvagent.ActionListImages:       "ListImages",
	hvagent.ActionGetImage:         "GetImage",
	hvagent.ActionDeleteImage:      "DeleteImage",
	hvagent.ActionFetchImage:       "RequestImage",
	hvagent.ActionListSnapshots:    "ListSnapshots",
	hvagent.ActionGetSnapshot:      "GetSnapshot",
	hvagent.ActionCreateSnapshot:   "CreateSnapshot",
	hvagent.ActionDeleteSnapshot:   "DeleteSnapshot",
	hvagent.ActionRollbackSnapshot: "RollbackSnapshot",
	hvagent.ActionDownloadSnapshot: "DownloadSnapshot",
	hvagent.ActionConsole:          "Console",
}

// streamServices maps the stream actions to their services.
var streamServices = map[string]string{
	hvagent.ActionDownloadSnapshot: ConfigDownloadService,
	hvagent.ActionConsole:          ConfigConsoleService,
}

// Actions wires every valid action to the simulation: one stage calling the
// matching Sim method on service "sim" ("simDownload" and "simConsole" for
// the streams). It is the same as testdata/sim.json.
func Actions() map[string]hvagent.ActionConfig {
	actions := map[string]hvagent.ActionConfig{}
	for _, name := range hvagent.ValidActions() {
		base := hvagent.BaseAction(name)
		method, ok := baseMethods[base]
		if !ok {
			continue
		}
		service := ConfigService
		if s, ok := streamServices[base]; ok {
			service = s
		}
		actions[name] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{
			{Service: service, Method: ServiceName + "." + method},
		}}
	}
	return actions
}

// Config returns an agent configuration that runs every action on the
// built-in simulation ("builtin": "sim"); the agent needs
// Builtins["sim"] = New(opts).Handler(). It is the same as testdata/sim.json.
func Config() *hvagent.Config {
	return &hvagent.Config{
		Services: map[string]hvagent.ServiceConfig{
			ConfigService:         {Builtin: "sim"},
			ConfigDownloadService: {Builtin: "sim", Path: DownloadPath},
			ConfigConsoleService:  {Builtin: "sim", Path: ConsolePath},
		},
		Actions: Actions(),
	}
}
