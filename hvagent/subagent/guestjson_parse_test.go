package subagent_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/guestgen"
)

// checkParseGuest checks that ParseGuest, when it takes data, gives the Guest
// json.Unmarshal gives, and leaves the guest alone when it declines. It
// returns whether it took the data.
func checkParseGuest(t *testing.T, data string) bool {
	t.Helper()
	got := hvagent.Guest{ID: "untouched"}
	if !subagent.ParseGuest(data, &got) {
		require.Equal(t, hvagent.Guest{ID: "untouched"}, got, "a declined parse leaves the guest alone")
		return false
	}
	var want hvagent.Guest
	require.NoError(t, json.Unmarshal([]byte(data), &want), "ParseGuest took what json.Unmarshal refuses: %q", data)
	require.Equal(t, want, got, "%q", data)
	return true
}

func marshalGuest(t *testing.T, g *hvagent.Guest) string {
	t.Helper()
	data, err := json.Marshal(g)
	require.NoError(t, err)
	return string(data)
}

// TestParseGuest_Random compares ParseGuest with json.Unmarshal on random guests,
// names and metadata included, as json.Marshal writes them: every one is
// taken.
func TestParseGuest_Random(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 2026))
	for range 2000 {
		data := marshalGuest(t, guestgen.Random(rng))
		require.True(t, checkParseGuest(t, data), data)
	}
}

// TestParseGuest_Metadata covers the metadata object: the forms json.Marshal
// writes are taken, others json.Unmarshal reads alike (unsorted or
// repeated keys) too, and anything else declined.
func TestParseGuest_Metadata(t *testing.T) {
	t.Parallel()
	for _, md := range []map[string]string{
		{"a": "b"},
		{"": "", "k\"ey": "v\\al", "é": "<&>", "bad\xff": "\x00"},
		{"z": "1", "a": "2", "m": "3"},
	} {
		require.True(t, checkParseGuest(t, marshalGuest(t, &hvagent.Guest{ID: "g", Metadata: md})))
	}
	const pre = `{"id":"g","metadata":`
	for _, data := range []string{pre + `{}}`, pre + `{"b":"1","a":"2"}}`, pre + `{"a":"1","a":"2"}}`} {
		require.True(t, checkParseGuest(t, data), data)
	}
	for _, data := range []string{pre + `null}`, pre + `{"a":1}}`, pre + `{"a":"1",}}`, pre + `{"a"}}`,
		pre + `{"a":"1"}`, pre + `[]}`, pre + `{"a":null}}`, pre + `{"a":"1"`} {
		require.False(t, checkParseGuest(t, data), data)
	}
}

// TestParseGuest_Declines: ParseGuest leaves every other form to encoding/json.
func TestParseGuest_Declines(t *testing.T) {
	t.Parallel()
	base := marshalGuest(t, &hvagent.Guest{ID: "g", Name: "n", Memory: 1, Metadata: map[string]string{"a": "b"}})
	require.True(t, checkParseGuest(t, base))
	for _, tc := range [][2]string{
		{`"name":"n"`, `"name":"n","x":1`},
		{`"metadata"`, `"Metadata"`},
		{`"memory":1,"metadata"`, `"metadata":{},"memory":1,"metadata"`},
		{`}}`, `} }`},
	} {
		data := strings.Replace(base, tc[0], tc[1], 1)
		require.NotEqual(t, base, data)
		require.False(t, checkParseGuest(t, data), data)
	}
}

// FuzzParseGuest: whatever ParseGuest takes, json.Unmarshal takes too, and gives
// the same Guest.
func FuzzParseGuest(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		data, err := json.Marshal(guestgen.Random(rng))
		require.NoError(f, err)
		f.Add(string(data))
	}
	f.Add(`{"id":"g","metadata":{"a":"b","a":"c"}}`)
	f.Fuzz(func(t *testing.T, data string) { checkParseGuest(t, data) })
}
