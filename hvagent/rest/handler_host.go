package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/hvagent/hvagent/hvagent"
)

// health serves GET /healthz (no token needed).
func (s *server) health(x *exchange) error {
	h, err := s.svc.Health(x.ctx())
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, h)
}

// metrics serves GET /metrics with opts.Metrics.
func (s *server) metrics(x *exchange) error {
	if s.opts.Metrics == nil {
		return hvagent.Errorf(hvagent.ENOTFOUND, "metrics are not served on this listener")
	}
	s.opts.Metrics.ServeHTTP(x.w, x.r)
	return nil
}

// getMetadata serves GET /metadata.
func (s *server) getMetadata(x *exchange) error {
	md, err := s.svc.Metadata(x.ctx())
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, nonNilMap(md))
}

// patchMetadata serves PATCH /metadata.
func (s *server) patchMetadata(x *exchange) error {
	patch, err := x.metadataPatch()
	if err != nil {
		return err
	}
	md, err := s.svc.PatchMetadata(x.ctx(), patch)
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, nonNilMap(md))
}

// metadataPatch decodes a metadata PATCH body: an object whose values are
// strings, or null (meaning "", which deletes the key).
func (x *exchange) metadataPatch() (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := x.decodeRequired(&raw, "a JSON object"); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	patch := make(map[string]string, len(raw))
	for _, k := range keys {
		v := raw[k]
		if bytes.Equal(v, []byte("null")) {
			patch[k] = ""
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, hvagent.Errorf(hvagent.EINVALID, "metadata key %q: value must be a string or null", k)
		}
		patch[k] = s
	}
	return patch, nil
}

// queueStats serves GET /queue: the depth of every busy queue.
func (s *server) queueStats(x *exchange) error {
	stats, err := s.svc.QueueStats(x.ctx())
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, nonNilList(stats))
}

// pauseQueue serves POST /queue/pause[?action=]: 200 with Health.
func (s *server) pauseQueue(x *exchange) error {
	if err := x.noBody(); err != nil {
		return err
	}
	if err := s.svc.PauseQueue(x.ctx(), x.query().Get("action")); err != nil {
		return err
	}
	return s.health(x)
}

// resumeQueue serves POST /queue/resume[?action=]: 200 with Health.
func (s *server) resumeQueue(x *exchange) error {
	if err := x.noBody(); err != nil {
		return err
	}
	if err := s.svc.ResumeQueue(x.ctx(), x.query().Get("action")); err != nil {
		return err
	}
	return s.health(x)
}

// newline ends a JSON reply that lacks one (never modified).
var newline = []byte{'\n'}

// rawJSON replies 200 with an info action's JSON body.
func (x *exchange) rawJSON(body json.RawMessage) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = json.RawMessage("null")
	}
	x.w.Header()["Content-Type"] = jsonContentType
	x.w.WriteHeader(http.StatusOK)
	_, _ = x.w.Write(body)
	if body[len(body)-1] != '\n' {
		_, _ = x.w.Write(newline)
	}
	return nil
}
