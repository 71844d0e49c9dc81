package storage

import (
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// Service names used by Services and Actions: the original's shipped
// config calls them "storage" and "storageDownload".
const (
	// ConfigService is the RPC service.
	ConfigService = "storage"
	// ConfigDownloadService is the snapshot download stream (a stream
	// stage posts to its service's path).
	ConfigDownloadService = "storageDownload"
	// ConfigFetchService is the RPC service of fetchImage, whose call lasts
	// as long as the download.
	ConfigFetchService = "storageFetch"
	// BuiltinName is the builtin name services use to reach the driver.
	BuiltinName = "storage"
)

// methods maps the image and snapshot actions to the driver's methods.
var methods = map[string]string{
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
}

// Call timeouts of the services whose calls may last long.
const (
	// FetchCallTimeout bounds a fetchImage call: the download itself, which
	// the driver also cuts when it stalls (Options.FetchIdleTimeout).
	FetchCallTimeout = 24 * time.Hour
	// DownloadCallTimeout bounds the wait for a download's first byte: the
	// export of every disk of the snapshot to a temporary file.
	DownloadCallTimeout = time.Hour
)

// Services returns the services of the built-in driver, all "builtin":
// "storage": ConfigService (RPC, the default call timeout),
// ConfigFetchService (RPC, FetchCallTimeout) and ConfigDownloadService
// (DownloadPath, DownloadCallTimeout). The agent needs
// Builtins["storage"] = driver.Handler().
func Services() map[string]hvagent.ServiceConfig {
	return map[string]hvagent.ServiceConfig{
		ConfigService:         {Builtin: BuiltinName},
		ConfigFetchService:    {Builtin: BuiltinName, Timeout: hvagent.Duration{Duration: FetchCallTimeout}},
		ConfigDownloadService: {Builtin: BuiltinName, Path: DownloadPath, Timeout: hvagent.Duration{Duration: DownloadCallTimeout}},
	}
}

// Actions wires the disk image actions (listImages, getImage, deleteImage,
// fetchImage) and every snapshot action to the driver, one stage each. The
// container image actions are not the driver's; guest create and delete
// pipelines take CreateStage and DeleteStage.
func Actions() map[string]hvagent.ActionConfig {
	actions := map[string]hvagent.ActionConfig{}
	for name, method := range methods {
		service := ConfigService
		switch name {
		case hvagent.ActionDownloadSnapshot:
			service = ConfigDownloadService
		case hvagent.ActionFetchImage:
			service = ConfigFetchService
		}
		actions[name] = hvagent.ActionConfig{Stages: []hvagent.StageConfig{
			{Service: service, Method: ServiceName + "." + method},
		}}
	}
	return actions
}

// CreateStage is the stage that creates a guest's disks; it goes before
// the hypervisor's create stage, which opens each disk's Source.
func CreateStage() hvagent.StageConfig {
	return hvagent.StageConfig{Service: ConfigService, Method: ServiceName + ".CreateGuestDisks"}
}

// DeleteStage is the stage that deletes a guest's disks; it goes after the
// hypervisor's delete stage, once the guest is stopped.
func DeleteStage() hvagent.StageConfig {
	return hvagent.StageConfig{Service: ConfigService, Method: ServiceName + ".DeleteGuestsDisks"}
}
