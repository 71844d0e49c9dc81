package subagent_test

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/guestgen"
)

// randomGuestCall makes a GuestRequest and a GuestResponse with random
// guests (or none), actions, args and messages.
func randomGuestCall(rng *rand.Rand) (*subagent.GuestRequest, *subagent.GuestResponse) {
	guest := func() *subagent.Guest {
		if rng.IntN(5) == 0 {
			return nil
		}
		return guestgen.Random(rng)
	}
	req := &subagent.GuestRequest{Guest: guest(), Action: guestgen.String(rng)}
	if n := rng.IntN(4); n > 0 {
		req.Args = map[string]string{}
		for range n {
			req.Args[guestgen.String(rng)] = guestgen.String(rng)
		}
	}
	resp := &subagent.GuestResponse{Guest: guest(), Retry: rng.IntN(3) - 1}
	if rng.IntN(2) == 0 {
		resp.Message = guestgen.String(rng)
	}
	return req, resp
}

// TestGuestCall_AppendMatchesMarshal: the direct forms of a guest call's
// request and reply are json.Marshal's bytes.
func TestGuestCall_AppendMatchesMarshal(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		req, resp := randomGuestCall(rng)
		method := guestgen.String(rng)
		id := rng.Uint64() >> 1
		want, err := json.Marshal(subagent.Request{Method: method, Params: [1]any{req}, ID: id})
		require.NoError(t, err)
		require.Equal(t, string(want), string(subagent.AppendGuestRequestCall(nil, method, req, id)))

		rawID := json.RawMessage(strconv.FormatUint(id, 10))
		want, err = json.Marshal(subagent.Reply1{Result: resp, ID: rawID})
		require.NoError(t, err)
		require.Equal(t, string(want), string(subagent.AppendGuestReply(nil, resp, rawID)))
	}
}

// TestGuestCall_ParseMatchesUnmarshal: read in their direct forms, a guest
// call's params and reply give what encoding/json gives.
func TestGuestCall_ParseMatchesUnmarshal(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		req, resp := randomGuestCall(rng)
		id := rng.Uint64() >> 1
		call := subagent.AppendGuestRequestCall(nil, "Sim.Start", req, id)
		var env struct{ Params json.RawMessage }
		require.NoError(t, json.Unmarshal(call, &env))
		var got, want subagent.GuestRequest
		require.True(t, subagent.ParseGuestParams(env.Params, &got), "%s", env.Params)
		var list []subagent.GuestRequest
		require.NoError(t, json.Unmarshal(env.Params, &list))
		want = list[0]
		require.Equal(t, want, got)

		reply := append(subagent.AppendGuestReply(nil, resp, []byte(strconv.FormatUint(id, 10))), '\n')
		var gotResp, wantResp subagent.GuestResponse
		require.True(t, subagent.ParseGuestReply(reply, id, &gotResp), "%s", reply)
		var r struct{ Result subagent.GuestResponse }
		require.NoError(t, json.Unmarshal(reply, &r))
		wantResp = r.Result
		require.Equal(t, wantResp, gotResp)
	}
}

// TestGuestCall_ParseDeclines: whatever is not in json.Marshal's form, or
// is not a successful reply to the call, is left to encoding/json, which
// decodes it (or reports it) as before.
func TestGuestCall_ParseDeclines(t *testing.T) {
	t.Parallel()
	const guest = `{"id":"g1","state":"running"}`
	for name, params := range map[string]string{
		"spaces":       `[{"guest": ` + guest + `,"action":"start"}]`,
		"key order":    `[{"action":"start","guest":` + guest + `}]`,
		"no array":     `{"guest":` + guest + `,"action":"start"}`,
		"two elements": `[{"guest":` + guest + `,"action":"start"},{}]`,
		"unknown key":  `[{"guest":` + guest + `,"action":"start","x":1}]`,
		"escapes":      `[{"guest":` + guest + `,"action":"st\u0061rt"}]`,
	} {
		t.Run("params/"+name, func(t *testing.T) {
			var p subagent.GuestRequest
			if subagent.ParseGuestParams([]byte(params), &p) {
				// Taken: it must be what encoding/json reads.
				var want subagent.GuestRequest
				require.NoError(t, subagent.DecodeParams(json.RawMessage(params), &want))
				require.Equal(t, want, p)
				return
			}
			require.Equal(t, subagent.GuestRequest{}, p, "declined, untouched")
			if name != "two elements" {
				require.NoError(t, subagent.DecodeParams(json.RawMessage(params), &p))
				require.Equal(t, "g1", p.Guest.ID)
			}
		})
	}
	ok := `{"result":{"guest":` + guest + `},"error":null,"id":7}`
	require.True(t, subagent.ParseGuestReply([]byte(ok), 7, new(subagent.GuestResponse)))
	for name, reply := range map[string]string{
		"other id":      strings.Replace(ok, `"id":7`, `"id":8`, 1),
		"string id":     strings.Replace(ok, `"id":7`, `"id":"7"`, 1),
		"method error":  `{"result":null,"error":"boom","id":7}`,
		"null result":   `{"result":null,"error":null,"id":7}`,
		"2.0":           `{"jsonrpc":"2.0","result":{"guest":` + guest + `},"id":7}`,
		"spaces":        strings.Replace(ok, `"error":null`, `"error": null`, 1),
		"trailing junk": ok + `x`,
		"leading zero":  strings.Replace(ok, `"id":7`, `"id":07`, 1),
	} {
		t.Run("reply/"+name, func(t *testing.T) {
			var r subagent.GuestResponse
			require.False(t, subagent.ParseGuestReply([]byte(reply), 7, &r))
			require.Equal(t, subagent.GuestResponse{}, r, "declined, untouched")
		})
	}
	// A response that is not zero is merged into by encoding/json: never
	// taken.
	r := subagent.GuestResponse{Message: "kept"}
	require.False(t, subagent.ParseGuestReply([]byte(ok), 7, &r))
	require.NoError(t, subagent.DecodeReply([]byte(ok), 7, &r))
	require.Equal(t, "kept", r.Message)
	require.Equal(t, "g1", r.Guest.ID)
}
