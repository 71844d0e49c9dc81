package rest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/guestgen"
)

// TestWriteJSON_Guest: a Guest reply, which takes subagent.AppendGuest's path, is
// the reply encoding/json gives, byte for byte.
func TestWriteJSON_Guest(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		g := guestgen.Random(rng)
		var want bytes.Buffer
		require.NoError(t, json.NewEncoder(&want).Encode(g))
		got := httptest.NewRecorder()
		require.NoError(t, (&exchange{w: got}).reply(http.StatusOK, g))
		require.Equal(t, http.StatusOK, got.Code)
		require.Equal(t, "application/json", got.Header().Get("Content-Type"))
		require.Equal(t, want.String(), got.Body.String())
	}
}

// TestDecodeReply_Guest: a client decodes the guest replies
// subagent.AppendGuest writes without encoding/json, to the Guest json.Unmarshal gives, and
// keeps none of the reply buffer's memory (it is pooled).
func TestDecodeReply_Guest(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 2026))
	for range 500 {
		data := append(subagent.AppendGuest(nil, guestgen.Random(rng)), '\n')
		require.True(t, subagent.ParseGuest(string(data[:len(data)-1]), new(hvagent.Guest)), "%s", data)
		var want, got hvagent.Guest
		require.NoError(t, json.Unmarshal(data, &want))
		require.NoError(t, decodeReply(data, &got))
		require.Equal(t, want, got)
		for i := range data {
			data[i] = 'x'
		}
		require.Equal(t, want, got, "the guest shares the reply buffer")
	}
	var g hvagent.Guest
	require.Error(t, decodeReply([]byte(`{"id":1}`), &g), "a reply neither decoder takes is an error")
}
