package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// TestE2E_Names manages guests by name, by ID prefix and several at once
// through the real hvctl and hvagentd.
func TestE2E_Names(t *testing.T) {
	t.Parallel()
	if e2eSkip != "" {
		t.Skip(e2eSkip)
	}
	dir := t.TempDir()
	startDaemon(t, dir)
	hv := func(args ...string) result { return hvctlExec(t, append([]string{"--data-dir", dir}, args...)...) }
	ids := map[string]string{"web1": "0b0c9d8e-0000-4000-8000-000000000001", "web2": "0b0c9d8e-0000-4000-8000-000000000002"}
	for _, name := range []string{"web1", "web2"} {
		r := hv("guest", "create", "--name", name, "--id", ids[name], "--memory", "64", "--disk", "size=8", "--wait", "-q")
		require.Equal(t, exitOK, r.code, r.errOut)
		require.Equal(t, ids[name]+"\n", r.out)
	}
	r := hv("guest", "create", "--name", "web1", "--disk", "size=8")
	require.Equal(t, exitConflict, r.code, r.errOut)
	require.Equal(t, `hvctl: guest name "web1" is taken by guest `+ids["web1"]+"\n", r.errOut)

	r = hv("guest", "start", "web1", "web2", "--wait")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Regexp(t, `(?m)^\S+\s+web1\s+start\s+Complete`, r.out)
	require.Regexp(t, `(?m)^\S+\s+web2\s+start\s+Complete`, r.out)

	r = hv("guest", "list")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Regexp(t, `(?m)^ID\s+NAME\s+TYPE\s+STATE`, r.out)
	require.Regexp(t, `(?m)^`+ids["web2"]+`\s+web2\s+vm\s+running`, r.out)

	r = hv("guest", "shutdown", "0b0c")
	require.Equal(t, exitUsage, r.code)
	require.Equal(t, `hvctl: guest ID prefix "0b0c" is ambiguous: it matches `+ids["web1"]+" (web1), "+ids["web2"]+" (web2); give more characters\n", r.errOut)
	r = hv("guest", "show", "0b0c9d8e-0000-4000-8000-0000000000")
	require.Equal(t, exitUsage, r.code)
	r = hv("guest", "show", "web3")
	require.Equal(t, exitNotFound, r.code)
	require.Equal(t, "hvctl: guest \"web3\" not found\n", r.errOut)

	r = hv("guest", "rename", "web1", "front")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Regexp(t, `(?m)^Name:\s+front$`, r.out)
	r = hv("guest", "rename", "front", "web2")
	require.Equal(t, exitConflict, r.code)
	require.Contains(t, r.errOut, ids["web2"])
	r = hv("guest", "rename", "front", "x-")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.errOut, hvagent.GuestNameRule)

	r = hv("job", "list", "--guest", "front", "-o", "json")
	require.Equal(t, exitOK, r.code, r.errOut)
	var jobs []*hvagent.Job
	require.NoError(t, json.Unmarshal([]byte(r.out), &jobs))
	require.Len(t, jobs, 2)
	for _, j := range jobs {
		require.Equal(t, "front", j.GuestName, "jobs carry the new name")
	}
	r = hv("job", "show", jobs[0].ID[:8], "-o", "json")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Contains(t, r.out, `"GuestName": "front"`)
	r = hv("job", "show", "zz")
	require.Equal(t, exitUsage, r.code)

	r = hv("guest", "poweroff", "front", "web2", "web3", "--wait")
	require.Equal(t, exitNotFound, r.code, "an unknown guest stops the command before any job")
	r = hv("guest", "list", "-o", "json")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Equal(t, 2, strings.Count(r.out, `"state": "running"`), r.out)
	r = hv("guest", "delete", "front", "web2", "--wait", "-q")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Len(t, strings.Fields(r.out), 2)
	r = hv("job", "list", "--guest", "front", "-q")
	require.Equal(t, exitOK, r.code, r.errOut)
	require.Len(t, strings.Fields(r.out), 3, "a deleted guest's jobs by its last name")
}
