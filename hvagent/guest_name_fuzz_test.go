package hvagent_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// FuzzParseGuestRef checks guest IDs and names: ParseGuestRef,
// ParseGuestID and ValidateGuestName never panic and fail only with
// EINVALID; an accepted reference is exactly one of a lowercase UUID (which
// parses back to itself) and a valid name (which is no UUID); and the
// three agree with each other.
func FuzzParseGuestRef(f *testing.F) {
	for _, s := range []string{
		"0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10", "0B0C9D8E-5D3A-4F0E-9A57-3C1F2B6A7D10",
		"{0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10}", "urn:uuid:0b0c9d8e-5d3a-4f0e-9a57-3c1f2b6a7d10",
		"0b0c9d8e5d3a4f0e9a573c1f2b6a7d10", "web-1", "web1", "-web", "web-", "Web", "a", "",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "wéb", "web\x00", "web\xff", "../etc", "a.b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		id, name, err := hvagent.ParseGuestRef(ref)
		nameErr := hvagent.ValidateGuestName(ref)
		idErr := requireGuestID(t, ref)
		if err != nil {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
			require.Empty(t, id+name)
			require.Error(t, nameErr, "a valid name %q is refused as a reference", ref)
			require.Error(t, idErr, "a valid ID %q is refused as a reference", ref)
			return
		}
		require.True(t, (id == "") != (name == ""), "id %q name %q", id, name)
		if name != "" {
			require.Equal(t, ref, name)
			require.NoError(t, nameErr)
			_, uerr := uuid.Parse(name)
			require.Error(t, uerr, "name %q is a UUID", name)
			return
		}
		require.NoError(t, idErr)
		require.Error(t, nameErr, "ID %q also passes as a name", ref)
		require.Len(t, id, 36)
		require.Equal(t, strings.ToLower(ref), id)
		again, _, err := hvagent.ParseGuestRef(id)
		require.NoError(t, err)
		require.Equal(t, id, again)
	})
}

// requireGuestID checks ParseGuestID on ref and returns its error: on
// success the ID is ref in lowercase, the UUID's canonical text, and parses
// back to itself.
func requireGuestID(t *testing.T, ref string) error {
	t.Helper()
	id, err := hvagent.ParseGuestID(ref)
	if err != nil {
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		require.Empty(t, id)
		return err
	}
	require.Equal(t, strings.ToLower(ref), id)
	require.Equal(t, uuid.MustParse(id).String(), id, "not the canonical text")
	again, err := hvagent.ParseGuestID(id)
	require.NoError(t, err)
	require.Equal(t, id, again)
	return nil
}
