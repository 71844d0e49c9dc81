package subagent_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	s := subagent.NewServer()
	subagent.Handle(s, "Echo.Guest", func(_ context.Context, req *subagent.GuestRequest) (*subagent.GuestResponse, error) {
		return &subagent.GuestResponse{Guest: req.Guest}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- subagent.ListenAndServe(ctx, "127.0.0.1:0", s, func(a string) { addrs <- a }) }()
	addr := <-addrs
	c := subagent.NewClient(subagent.ClientConfig{URL: "http://" + addr + subagent.RPCPath})
	var resp subagent.GuestResponse
	require.NoError(t, c.Call(context.Background(), "Echo.Guest", &subagent.GuestRequest{Guest: &subagent.Guest{ID: "g"}}, &resp))
	require.Equal(t, "g", resp.Guest.ID)
	cancel()
	require.NoError(t, <-done)

	require.Error(t, subagent.ListenAndServe(context.Background(), "256.0.0.1:1", s, nil))
}
