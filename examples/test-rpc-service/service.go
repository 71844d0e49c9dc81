package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// serviceName is the RPC service name of every method.
const serviceName = "Test"

// Canned answers.
const (
	imageID      = "289120e4-ed12-431d-8d18-48f8a94bb05a"
	imageSize    = 1024
	snapshotSize = 1024
	downloadPath = "/snapshots/download"
	downloadBody = "foobar"
)

// guestMethods echo the request's guest. The container ones are named as
// the original docker sub-agent named them.
var guestMethods = []string{
	"Create", "Run", "Reboot", "Restart", "Shutdown", "Poweroff", "Suspend", "Resume", "Delete",
	"CreateContainer", "StartContainer", "RebootContainer", "RestartContainer", "StopContainer",
	"PauseContainer", "UnpauseContainer", "DeleteContainer",
}

// metricsMethods answer one canned metric of their type.
var metricsMethods = map[string]func(*subagent.GuestMetricsResponse){
	"CPUMetrics": func(r *subagent.GuestMetricsResponse) {
		r.Type, r.CPU = "cpu", []*subagent.GuestCPUMetrics{{}}
	},
	"DiskMetrics": func(r *subagent.GuestMetricsResponse) {
		r.Type, r.Disk = "disk", map[string]*subagent.GuestDiskMetrics{"vda": {Disk: "vda"}}
	},
	"NicMetrics": func(r *subagent.GuestMetricsResponse) {
		r.Type, r.Nic = "nic", map[string]*subagent.GuestNicMetrics{"net0": {Name: "net0"}}
	},
}

// imageMethods all answer the one canned image.
var imageMethods = []string{"ListImages", "GetImage", "DeleteImage", "RequestImage"}

// snapshotMethods answer one canned snapshot named after the request.
var snapshotMethods = map[string]func(*subagent.SnapshotRequest) string{
	"ListSnapshots":    func(r *subagent.SnapshotRequest) string { return "mistify/" + r.ID + "@bar" },
	"GetSnapshot":      func(r *subagent.SnapshotRequest) string { return "mistify/" + r.ID },
	"DeleteSnapshot":   func(r *subagent.SnapshotRequest) string { return "mistify/" + r.ID },
	"RollbackSnapshot": func(r *subagent.SnapshotRequest) string { return "mistify/" + r.ID },
	"CreateSnapshot":   func(r *subagent.SnapshotRequest) string { return "mistify/" + r.ID + "@" + r.Dest },
}

// methodNames returns every registered method, "Test.<Method>", sorted.
func methodNames() []string {
	names := append([]string(nil), guestMethods...)
	names = append(names, imageMethods...)
	for m := range metricsMethods {
		names = append(names, m)
	}
	for m := range snapshotMethods {
		names = append(names, m)
	}
	for i, n := range names {
		names[i] = serviceName + "." + n
	}
	slices.Sort(names)
	return names
}

// handle registers Test.<method>, logging every call.
func handle[Req, Resp any](s *subagent.Server, logger zerolog.Logger, method string, fn func(*Req) (*Resp, error)) {
	full := serviceName + "." + method
	subagent.Handle(s, full, func(ctx context.Context, req *Req) (*Resp, error) {
		jobID, attempt := subagent.CallInfo(ctx)
		logger.Info().Str("method", full).Str("job_id", jobID).Int("attempt", attempt).Msg("called")
		return fn(req)
	})
}

var errInvalidGuest = errors.New("invalid guest")

func echoGuest(req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	if req.Guest == nil || req.Guest.ID == "" {
		return nil, errInvalidGuest
	}
	return &subagent.GuestResponse{Guest: req.Guest}, nil
}

func cannedImage(*subagent.ImageRequest) (*subagent.ImageResponse, error) {
	return &subagent.ImageResponse{Images: []*subagent.Image{
		{ID: imageID, Size: imageSize, Status: "complete"},
	}}, nil
}

// newServer returns the stub sub-agent with every method and the raw
// /snapshots/download endpoint.
func newServer(logger zerolog.Logger) *subagent.Server {
	s := subagent.NewServer()
	for _, m := range guestMethods {
		handle(s, logger, m, echoGuest)
	}
	for m, fill := range metricsMethods {
		handle(s, logger, m, func(req *subagent.GuestMetricsRequest) (*subagent.GuestMetricsResponse, error) {
			if req.Guest == nil || req.Guest.ID == "" {
				return nil, errInvalidGuest
			}
			resp := &subagent.GuestMetricsResponse{Guest: req.Guest}
			fill(resp)
			return resp, nil
		})
	}
	for _, m := range imageMethods {
		handle(s, logger, m, cannedImage)
	}
	for m, name := range snapshotMethods {
		handle(s, logger, m, func(req *subagent.SnapshotRequest) (*subagent.SnapshotResponse, error) {
			return &subagent.SnapshotResponse{Snapshots: []*subagent.Snapshot{{ID: name(req), Size: snapshotSize}}}, nil
		})
	}
	s.HandleRaw(downloadPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Info().Str("path", downloadPath).Msg("called")
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, downloadBody)
	}))
	return s
}
