package hvagent_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestParseGuestRef(t *testing.T) {
	t.Parallel()
	const id = "0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10"
	for _, tc := range []struct {
		ref, id, name, err string
	}{
		{ref: id, id: id},
		{ref: strings.ToUpper(id), id: id},
		{ref: "web1", name: "web1"},
		{ref: "a", name: "a"},
		{ref: "0b0c", name: "0b0c"},
		{ref: "web-1-a", name: "web-1-a"},
		{ref: strings.Repeat("z", 63), name: strings.Repeat("z", 63)},
		{ref: "", err: "a guest ID or name is required"},
		{ref: "Web1", err: "neither a guest ID (a UUID) nor a guest name"},
		{ref: "-web", err: "neither"},
		{ref: "web-", err: "neither"},
		{ref: "web_1", err: "neither"},
		{ref: strings.Repeat("z", 64), err: "neither"},
		{ref: strings.ReplaceAll(id, "-", ""), err: "must be a UUID"},
		{ref: "{" + id + "}", err: "must be a UUID"},
	} {
		gotID, gotName, err := hvagent.ParseGuestRef(tc.ref)
		if tc.err != "" {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%q: %v", tc.ref, err)
			require.ErrorContains(t, err, tc.err, "%q", tc.ref)
			continue
		}
		require.NoError(t, err, tc.ref)
		require.Equal(t, tc.id, gotID, tc.ref)
		require.Equal(t, tc.name, gotName, tc.ref)
	}
}

func TestValidateGuestName(t *testing.T) {
	t.Parallel()
	for name, problem := range map[string]string{
		"":                                     "is empty",
		strings.Repeat("a", 64):                "is 64 characters long",
		"-a":                                   "starts or ends with -",
		"a-":                                   "starts or ends with -",
		"a.b":                                  `has '.'`,
		"A":                                    `has 'A'`,
		"0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10": "is a UUID",
		"0b0c9d8e5d3a4f0e9a573c1f2b6a7d10":     "is a UUID",
		hvagent.AgentGuestID:                   "is reserved",
	} {
		err := hvagent.ValidateGuestName(name)
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%q", name)
		require.ErrorContains(t, err, problem, "%q", name)
		require.ErrorContains(t, err, hvagent.GuestNameRule, "%q", name)
	}
	require.NoError(t, hvagent.ValidateGuestName("web1"))
	require.NoError(t, hvagent.ValidateGuestName("agent1"))
	_, name, err := hvagent.ParseGuestRef(hvagent.AgentGuestID)
	require.NoError(t, err, "a guest named agent before the rule is still found by its name")
	require.Equal(t, hvagent.AgentGuestID, name)
}
