package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// Defaults of the stage args.
const (
	defaultEmoji = "rainbow"
	defaultName  = "mistify-webhook-post"
)

// message is the Slack-style body posted to the webhook.
type message struct {
	Text      string `json:"text"`
	IconEmoji string `json:"icon_emoji"`
	Username  string `json:"username"`
}

// webhook posts one message per call to endpoint.
type webhook struct {
	endpoint string
	timeout  time.Duration
	logger   zerolog.Logger
}

// newServer returns the sub-agent with its one method, Webhook.Post.
func newServer(w *webhook) *subagent.Server {
	s := subagent.NewServer()
	subagent.Handle(s, "Webhook.Post", w.post)
	return s
}

// post announces the request's action on its guest and echoes the guest.
// The stage args "emoji" and "name" set the icon and user name. A webhook
// that fails or answers a non-2xx status fails the call.
func (w *webhook) post(ctx context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
	if req.Guest == nil || req.Guest.ID == "" {
		return nil, errors.New("invalid guest")
	}
	msg := message{
		Text:      fmt.Sprintf("%s called on %s", req.Action, req.Guest.ID),
		IconEmoji: ":" + argOr(req.Args, "emoji", defaultEmoji) + ":",
		Username:  argOr(req.Args, "name", defaultName),
	}
	jobID, attempt := subagent.CallInfo(ctx)
	log := w.logger.With().Str("guest", req.Guest.ID).Str("action", req.Action).
		Str("job_id", jobID).Int("attempt", attempt).Logger()
	if err := w.send(ctx, msg); err != nil {
		log.Error().Err(err).Msg("webhook post failed")
		return nil, err
	}
	log.Info().Msg("webhook posted")
	return &subagent.GuestResponse{Guest: req.Guest}, nil
}

// send posts msg within the configured timeout.
func (w *webhook) send(ctx context.Context, msg message) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode webhook message: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post webhook: answered %s", resp.Status)
	}
	return nil
}

func argOr(args map[string]string, key, def string) string {
	if v := args[key]; v != "" {
		return v
	}
	return def
}
