package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// FuzzParseTokens checks that the tokens file parser never panics, fails
// only with EINVALID naming the file, accepts only valid JSON, and that
// what it accepts is a valid token list that survives a Marshal → parse
// round trip unchanged.
func FuzzParseTokens(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	f.Add([]byte(`[{"name":"ci","sha256":"` + strings.ToUpper(sum) + `","scope":"write"},{"name":"ops","sha256":"` + sum + `","scope":"admin"}]`))
	f.Add([]byte(`[{"name":"ci","sha256":"` + sum + `","scope":"read"}] ]`))
	f.Add([]byte(`[{"name":"ci","sha256":"` + sum + `","scope":"read"}] }`))
	f.Add([]byte(`[{"name":"ci","sha256":"` + sum + `","scope":"read","name":"ci"}]`))
	f.Add([]byte(`[{"name":"\u00e9\ud800","sha256":"` + sum + `","scope":"read"}]`))
	f.Add([]byte("[{\"name\":\"\xff\",\"sha256\":\"" + sum + "\",\"scope\":\"read\"}]"))
	f.Add([]byte(`[null]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/etc/hvagent/tokens.json"
		tokens, err := parseTokens(data, path)
		if err != nil {
			require.Nil(t, tokens)
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
			require.Contains(t, err.Error(), path)
			return
		}
		require.True(t, json.Valid(data), "accepted invalid JSON %q", data)
		requireValidTokens(t, tokens)
		out, err := json.Marshal(tokens)
		require.NoError(t, err)
		again, err := parseTokens(out, path)
		require.NoError(t, err, "re-parse %s", out)
		require.Equal(t, tokens, again)
	})
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func requireValidTokens(t *testing.T, tokens []Token) {
	t.Helper()
	require.NotEmpty(t, tokens)
	seen := map[string]bool{}
	for _, tok := range tokens {
		require.NotEmpty(t, tok.Name)
		require.False(t, seen[tok.Name], "name %q twice", tok.Name)
		seen[tok.Name] = true
		require.Regexp(t, sha256Hex, tok.SHA256)
		require.Contains(t, []string{ScopeRead, ScopeWrite, ScopeAdmin}, tok.Scope)
	}
}

// queryExchange is an exchange of a request with header Last-Event-ID
// (when not empty) and the raw query q.
func queryExchange(lastID, q string) *exchange {
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/jobs", RawQuery: q}, Header: http.Header{}}
	if lastID != "" {
		r.Header.Set("Last-Event-ID", lastID)
	}
	return &exchange{s: &server{}, r: r}
}

// FuzzEventCursor checks the parsing of Last-Event-ID and ?since=: never a
// panic, errors are EINVALID naming the source, a cursor is -1 (none) or
// a non-negative ID, and an accepted ID written back in decimal parses to
// the same cursor.
func FuzzEventCursor(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"42", ""}, {"", "since=7"}, {" 9 ", "since=x"}, {"-1", ""}, {"", "since=-0"},
		{"+5", ""}, {"0x10", ""}, {"9223372036854775807", ""}, {"9223372036854775808", ""},
		{"", "since=1e3"}, {"", "since=%zz"}, {"", "since=1&since=2"}, {"\x00", ""}, {"٣", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, lastID, q string) {
		n, err := queryExchange(lastID, q).eventCursor()
		if err != nil {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
			require.Regexp(t, `^(Last-Event-ID|since) ".*" must be a non-negative integer event id$`, err.Error())
			return
		}
		if n == -1 {
			require.Empty(t, strings.TrimSpace(lastID))
			return
		}
		require.GreaterOrEqual(t, n, int64(0))
		again, err := queryExchange(strconv.FormatInt(n, 10), "").eventCursor()
		require.NoError(t, err)
		require.Equal(t, n, again)
		again, err = queryExchange("", "since="+strconv.FormatInt(n, 10)).eventCursor()
		require.NoError(t, err)
		require.Equal(t, n, again)
	})
}

// FuzzQueryValues checks the query parameters of list and async routes:
// limit, wait, dry_run, before and after, and the job filter. Never a
// panic; errors are EINVALID; accepted values are in range and survive
// being written back and parsed again.
func FuzzQueryValues(f *testing.F) {
	for _, q := range []string{
		"", "limit=10&wait=30s&dry_run=true&before=0B3C5D1E-0000-4000-8000-000000000001",
		"limit=0", "limit=1001", "limit=-1", "limit=+5", "limit=0x10", "limit=99999999999999999999",
		"wait=5m", "wait=5m1ns", "wait=-1s", "wait=1h", "wait=9223372036854775807ns", "wait=1e3s", "wait=.5s",
		"dry_run=T", "dry_run=yes", "before={0b3c5d1e-0000-4000-8000-000000000001}",
		"after=urn:uuid:0b3c5d1e-0000-4000-8000-000000000001", "after=0b3c5d1e000040008000000000000001",
		"action=start&status=Running", "action=nosuch", "status=running", "%zz", "limit=1;wait=1s",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		x := queryExchange("", q)
		requireLimit(t, x)
		requireWait(t, x)
		if _, err := x.queryBool("dry_run"); err != nil {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		}
		for _, name := range []string{"before", "after"} {
			requireQueryID(t, x, name)
		}
		if _, err := x.jobFilter(); err != nil {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		}
	})
}

func requireLimit(t *testing.T, x *exchange) {
	t.Helper()
	n, err := x.queryLimit()
	if err != nil {
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		return
	}
	if n == 0 {
		return
	}
	require.True(t, n >= 1 && n <= maxListLimit, "limit %d", n)
	again, err := queryExchange("", "limit="+strconv.Itoa(n)).queryLimit()
	require.NoError(t, err)
	require.Equal(t, n, again)
}

func requireWait(t *testing.T, x *exchange) {
	t.Helper()
	d, err := x.queryWait()
	if err != nil {
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		return
	}
	require.True(t, d >= 0 && d <= MaxWait, "wait %v", d)
	again, err := queryExchange("", "wait="+url.QueryEscape(d.String())).queryWait()
	require.NoError(t, err)
	require.Equal(t, d, again)
}

func requireQueryID(t *testing.T, x *exchange, name string) {
	t.Helper()
	id, err := x.queryID(name)
	if err != nil {
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		require.Contains(t, err.Error(), name)
		return
	}
	if id == "" {
		return
	}
	require.Len(t, id, 36)
	require.Equal(t, strings.ToLower(id), id)
	again, err := parseID(name, id)
	require.NoError(t, err)
	require.Equal(t, id, again)
}

// bodyExchange is an exchange of a request whose body is b.
func bodyExchange(b []byte) *exchange {
	return &exchange{s: &server{}, r: &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Header: http.Header{}}, body: b}
}

// FuzzDecodeBodies feeds one body to every JSON decoder of the handler:
// the guest of POST /guests, the bodies of PATCH /guests/{id}, POST
// /images, POST …/snapshots and …/rollback, the empty body of actions,
// and metadata PATCH bodies. None panics, errors are EINVALID, and what
// one accepts survives a Marshal → decode round trip unchanged.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"memory":256,"cpu":1,"disks":[{"size":1024}],"metadata":{"k":"v"},"name":"web-1"}`,
		`{"name":"web-1"}`, `{"name":null}`, `{"id":"img","type":"container","source":"http://a/b","sha256":"ab"}`,
		`{"dest":"s1","name":"s1"}`, `{"destroyMoreRecent":true}`, `{}`, `{"k":"v","gone":null}`, `{"k":"\u00e9"}`,
		`null`, `[]`, `{"a":1} x`, `{"name":"\ud800"}`, "{\"k\":\"\xff\"}", `{"memory":1e400}`, `{"k":"v","k":"w"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, func() any { return &hvagent.Guest{} })
		roundTrip(t, b, func() any { return &guestPatch{} })
		roundTrip(t, b, func() any { return &imageBody{} })
		roundTrip(t, b, func() any { return &createSnapshotBody{} })
		roundTrip(t, b, func() any { return &rollbackBody{} })
		roundTrip(t, b, func() any { return &struct{}{} })
		patch, err := bodyExchange(b).metadataPatch()
		if err != nil {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
			return
		}
		out, err := json.Marshal(patch)
		require.NoError(t, err)
		again, err := bodyExchange(out).metadataPatch()
		require.NoError(t, err, "re-decode %s", out)
		require.Equal(t, patch, again)
	})
}

// roundTrip decodes b into a fresh value of fresh(); when that succeeds,
// the value encoded and decoded again must be equal to it.
func roundTrip(t *testing.T, b []byte, fresh func() any) {
	t.Helper()
	v := fresh()
	if _, err := bodyExchange(b).decode(v); err != nil {
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		return
	}
	out, err := json.Marshal(v)
	require.NoError(t, err)
	again := fresh()
	_, err = bodyExchange(out).decode(again)
	require.NoError(t, err, "re-decode %s", out)
	require.Equal(t, v, again, "%s", out)
}

// FuzzCheckEscapes checks that a JSON string that passes checkUTF8 and
// checkEscapes decodes without any U+FFFD the input does not spell out
// itself: nothing is silently replaced.
func FuzzCheckEscapes(f *testing.F) {
	for _, s := range []string{`a`, `\ud834\udd1e`, `\ud800`, `\udc00`, `\ud800\u0041`, `\\ud800`, `\ufffd`, "\xff", `\"\ud800`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(`"` + s + `"`)
		var v string
		if checkUTF8(b) != nil || checkEscapes(b) != nil || json.Unmarshal(b, &v) != nil {
			return
		}
		if strings.ContainsRune(v, utf8.RuneError) {
			require.True(t, strings.Contains(strings.ToLower(s), `\ufffd`) || strings.ContainsRune(s, utf8.RuneError),
				"%q decodes to %q", s, v)
		}
	})
}
