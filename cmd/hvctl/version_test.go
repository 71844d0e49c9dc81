package main

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestVersion_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var got *VersionOptions
	require.NoError(t, parse(newCmdVersion(b.f, capture(&got)), "--client", "-o", "json"))
	require.True(t, got.Client)
	require.True(t, got.Out.json())
	requireUsage(t, parse(newCmdVersion(b.f, capture(&got)), "now"), "takes no arguments")
}

func TestVersion_Run(t *testing.T) {
	t.Parallel()
	t.Run("WithAgent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.HealthFunc = func(context.Context) (*hvagent.Health, error) {
			return &hvagent.Health{Status: "ok", Version: "v9", Builtins: []string{"sim"}, Simulated: true}, nil
		}
		require.NoError(t, versionRun(&VersionOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		require.Equal(t, "hvctl: "+hvagent.Version+" ("+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")\n"+
			"agent: v9, ok, built-in drivers: sim (SIMULATED)\n", b.out.String())
	})
	t.Run("AgentUnreachable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.HealthFunc = func(context.Context) (*hvagent.Health, error) {
			return nil, hvagent.Errorf(hvagent.EUNAVAILABLE, "cannot reach hvagentd")
		}
		require.Equal(t, exitUnavailable, b.run(t.Context(), "version", "-o", "json"), "an unreachable agent is exit 5")
		var got versionInfo
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, hvagent.Version, got.Version)
		require.Nil(t, got.Agent)
		require.Equal(t, "cannot reach hvagentd", got.AgentError)
	})
	t.Run("Client", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.f.Service = nil // never asked
		require.Equal(t, exitOK, b.run(t.Context(), "version", "--client"))
		require.Equal(t, 1, strings.Count(b.out.String(), "\n"), b.out.String())
		require.NotContains(t, b.out.String(), "agent:")
	})
}
