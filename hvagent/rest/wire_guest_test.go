package rest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/internal/guestgen"
)

// TestWriteJSON_Guest: a Guest reply, which takes wirejson.AppendGuest's path, is
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
