package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

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
			return nil, subagent.WithCode(subagent.CodeInvalid, errors.New("invalid guest"))
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
