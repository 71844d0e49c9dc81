package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// newServer returns the sub-agent: Simple.DoStuff fails percent% of the
// calls and otherwise echoes the request's guest.
func newServer(percent int, logger zerolog.Logger) *subagent.Server {
	s := subagent.NewServer()
	subagent.Handle(s, "Simple.DoStuff", func(ctx context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
		jobID, attempt := subagent.CallInfo(ctx)
		log := logger.With().Str("method", "Simple.DoStuff").Str("action", req.Action).
			Str("job_id", jobID).Int("attempt", attempt).Logger()
		if req.Guest == nil || req.Guest.ID == "" {
			log.Info().Msg("invalid guest")
			return nil, errors.New("invalid guest")
		}
		log = log.With().Str("guest", req.Guest.ID).Logger()
		if rand.IntN(100) < percent {
			log.Info().Msg("returning an error")
			return nil, fmt.Errorf("returning an error as I do %d%% of the time", percent)
		}
		log.Info().Msg("doing stuff")
		return &subagent.GuestResponse{Guest: req.Guest}, nil
	})
	return s
}

// serve listens on addr, calls ready with the address it got and serves h
// until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, addr string, h http.Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready(ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	<-errc
	return nil
}
