package rest_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
)

// malformed is one generated bad request, as the bytes sent on the wire.
type malformed struct {
	kind string // the generator, for failure messages
	raw  []byte
	// own: send on a connection of its own and half-close it after
	// (requests the server may not read to their end).
	own bool
}

// malformedGen generates bad requests against one live guest, one
// finished job and a server at host; every request it makes must be
// answered with a 4xx.
type malformedGen struct {
	rng   *rand.Rand
	host  string
	guest string // "/guests/<id>"
	done  string // a finished job ID
	token string // the admin secret
}

// next returns a request of a generator chosen at random by weight (huge
// bodies cost the most to send, and are fewer).
func (g *malformedGen) next() malformed {
	gens := []struct {
		kind   string
		weight int
		make   func() ([]byte, bool)
	}{
		{"bad-json", 3, g.badJSON}, {"wrong-type", 3, g.wrongType}, {"nested", 2, g.nested},
		{"huge", 1, g.huge}, {"bad-utf8", 3, g.badUTF8}, {"bad-path", 3, g.badPath},
		{"bad-query", 3, g.badQuery}, {"bad-header", 3, g.badHeader}, {"bad-method", 3, g.badMethod},
		{"bad-length", 3, g.badLength}, {"bad-http", 3, g.badHTTP},
	}
	total := 0
	for _, gen := range gens {
		total += gen.weight
	}
	w := g.rng.IntN(total)
	for _, gen := range gens {
		if w -= gen.weight; w < 0 {
			raw, own := gen.make()
			return malformed{kind: gen.kind, raw: raw, own: own}
		}
	}
	panic("unreachable")
}

// one returns a random element of list.
func one[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

// request renders a request with the usual headers (Host, the admin
// token, JSON Content-Type and Content-Length when body is not nil) and
// extra header lines: "Name: v" replaces a usual header or is added,
// "+Name: v" is added as is (a second Content-Length), "-Name" drops one.
func (g *malformedGen) request(method, target string, body []byte, extra ...string) []byte {
	hdr := map[string]string{"Host": g.host, "Authorization": "Bearer " + g.token}
	if body != nil {
		hdr["Content-Type"] = "application/json"
		hdr["Content-Length"] = strconv.Itoa(len(body))
	}
	var lines []string
	for _, e := range extra {
		if name, ok := strings.CutPrefix(e, "-"); ok {
			delete(hdr, name)
			continue
		}
		if line, ok := strings.CutPrefix(e, "+"); ok {
			lines = append(lines, line)
			continue
		}
		name, value, _ := strings.Cut(e, ": ")
		if _, ok := hdr[name]; ok {
			hdr[name] = value
			continue
		}
		lines = append(lines, e)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	for _, name := range []string{"Host", "Authorization", "Content-Type", "Content-Length"} {
		if v, ok := hdr[name]; ok {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// bodyRoute is a route that decodes a JSON body, with bodies of the
// right JSON shape but wrong for it.
type bodyRoute struct {
	method, path string
	wrong        []string
}

func (g *malformedGen) bodyRoutes() []bodyRoute {
	gp := g.guest
	noBody := noBodyFields
	return []bodyRoute{
		{"POST", "/guests", []string{`{"memory":"lots"}`, `{"cpu":true}`, `{"disks":"x"}`, `{"disks":[{"size":"big"}]}`,
			`{"memroy":1}`, `{"id":"web-1"}`, `{"name":"Web_1"}`, `{"memory":1e400}`, `{"metadata":{"k":1}}`, `{"nics":{}}`}},
		{"PATCH", gp, []string{`{"name":7}`, `{}`, `{"name":"-a"}`, `{"name":"a","state":"x"}`, `{"name":["a"]}`}},
		{"PATCH", gp + "/metadata", []string{`{"k":1}`, `{"k":{"a":"b"}}`, `{"k":["v"]}`, `{"k":true}`}},
		{"PATCH", "/metadata", []string{`{"k":1.5}`, `{"k":{}}`, `{"k":false}`}},
		{"POST", "/images", []string{`{"id":1}`, `{"sha256":[]}`, `{"url":"x"}`, `{"id":"a","source":"file:///etc/shadow"}`}},
		{"POST", "/container_images", []string{`{"type":"kvm"}`, `{"id":{}}`}},
		{"POST", gp + "/snapshots", []string{`{"dest":1}`, `{"dest":"a","name":"b"}`, `{"snap":"x"}`}},
		{"POST", gp + "/snapshots/s1/rollback", []string{`{"destroyMoreRecent":"yes"}`, `{"destroy":true}`}},
		{"POST", gp + "/start", noBody},
		{"POST", gp + "/reboot", noBody},
		{"DELETE", gp, noBody},
		{"POST", "/queue/pause", noBody},
		{"DELETE", "/jobs/" + g.done, noBody},
	}
}

// noBodyFields are the bad bodies of the routes that take none.
var noBodyFields = []string{`{"force":true}`, `{"":0}`, `{"a":null}`}

// validBodies are well-formed bodies, cut short by badJSON.
var validBodies = []string{
	`{"memory":256,"cpu":1,"disks":[{"size":1024}],"metadata":{"k":"v"}}`,
	`{"name":"web-1"}`, `{"k":"v","gone":null}`, `{"id":"img","source":"http://127.0.0.1:1/x","sha256":""}`,
	`{"dest":"snap-1"}`, `{"destroyMoreRecent":true}`, `{}`,
}

// badJSON: syntax errors, truncated and trailing data, and bodies that
// are no object.
func (g *malformedGen) badJSON() ([]byte, bool) {
	r := one(g.rng, g.bodyRoutes())
	var body string
	switch g.rng.IntN(3) {
	case 0:
		v := one(g.rng, validBodies)
		body = v[:1+g.rng.IntN(len(v)-1)] // an object cut short is never valid
	case 1:
		body = one(g.rng, []string{`{`, `{"a"`, `{"memory":}`, `{'a':1}`, `{"a":1,}`, `[1,2`, `"str`,
			`{"a":1}}`, `{} {}`, `{}x`, `{"a":01}`, `{"a":"\x"}`, `{"a":tru}`, `{"a" 1}`, "{\"a\":\"\x01\"}"})
	default:
		notObject := []string{`null`, `[]`, `[{}]`, `123`, `"str"`, `true`, `-0`, `1e999`}
		if r.wrong[0] == noBodyFields[0] { // null is no body there, as the original client sends it
			notObject = notObject[1:]
		}
		body = one(g.rng, notObject)
	}
	return g.request(r.method, r.path, []byte(body)), false
}

// wrongType: well-formed JSON of the wrong types or unknown fields for
// the route.
func (g *malformedGen) wrongType() ([]byte, bool) {
	r := one(g.rng, g.bodyRoutes())
	return g.request(r.method, r.path, []byte(one(g.rng, r.wrong))), false
}

// nested: arrays or objects nested up to 12,000 deep (encoding/json
// refuses more than 10,000), as the body or inside a field.
func (g *malformedGen) nested() ([]byte, bool) {
	r := one(g.rng, g.bodyRoutes())
	depth := 1 + g.rng.IntN(12000)
	var body string
	switch g.rng.IntN(3) {
	case 0:
		body = strings.Repeat("[", depth) + strings.Repeat("]", depth)
	case 1:
		body = `{"x":` + strings.Repeat(`{"a":`, depth/5) + "1" + strings.Repeat("}", depth/5) + "}"
	default:
		body = strings.Repeat("[", depth) // unterminated
	}
	return g.request(r.method, r.path, []byte(body)), false
}

// huge: bodies over the 1 MiB limit, declared or chunked.
func (g *malformedGen) huge() ([]byte, bool) {
	r := one(g.rng, g.bodyRoutes())
	n := 1<<20 + 1 + g.rng.IntN(64<<10)
	body := []byte(`{"id":"` + strings.Repeat("x", n) + `"}`)
	if g.rng.IntN(2) == 0 {
		return g.request(r.method, r.path, body), true
	}
	var b bytes.Buffer
	for chunk := body; len(chunk) > 0; {
		k := min(len(chunk), 64<<10)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", k, chunk[:k])
		chunk = chunk[k:]
	}
	b.WriteString("0\r\n\r\n")
	return g.request(r.method, r.path, b.Bytes(), "-Content-Length", "Transfer-Encoding: chunked"), true
}

// badUTF8: invalid UTF-8 and lone surrogate escapes inside JSON strings
// and keys.
func (g *malformedGen) badUTF8() ([]byte, bool) {
	r := one(g.rng, g.bodyRoutes())
	bad := one(g.rng, []string{"\\ud800", "\\udc00x", "\xff", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "\xc0\xaf", "\x80"})
	body := one(g.rng, []string{`{"name":"a%sb"}`, `{"k%s":"v"}`, `{"id":"%s","source":"x"}`, `{"dest":"%s"}`, `{"%s":1}`})
	return g.request(r.method, r.path, []byte(fmt.Sprintf(body, bad))), false
}

// badPath: unclean paths, unknown routes, and malformed guest, job, disk
// and snapshot parameters.
func (g *malformedGen) badPath() ([]byte, bool) {
	gp := g.guest
	p := one(g.rng, []string{
		"/guests/../guests", "//guests", "/guests/./x", gp + "/../../metadata", "/guests//start", "/nosuch",
		"/guests/Web_1", "/guests/" + strings.Repeat("a", 64), "/guests/-a-", "/guests/%00", "/guests/%2e%2e/x",
		"/guests/0b3c5d1e-0000-4000-8000-000000000001", "/jobs/not-a-uuid", "/jobs/0b3c5d1e-0000-4000-8000-000000000001",
		gp + "/snapshots/x/nosuch", gp + "/disks/-1/snapshots", gp + "/disks/x/snapshots", "/images/..%2f..%2fetc",
		"/debug/pprof/", "/guests/" + strings.Repeat("%41", 2000), "/" + strings.Repeat("x/", 2000), gp + "/explode",
		"/guests/%E2%80%AE", "/guests/%FF", "/healthz/", "/metrics/x",
	})
	method := "GET"
	if g.rng.IntN(3) == 0 {
		method = "POST"
	}
	return g.request(method, p, nil), false
}

// badQuery: out-of-range, mistyped and unknown query values.
func (g *malformedGen) badQuery() ([]byte, bool) {
	gp := g.guest
	base := one(g.rng, []string{"/jobs", "/guests", gp + "/jobs", "/jobs/" + g.done, "/events"})
	bad := map[string][]string{
		"/jobs":           {"limit=abc", "limit=0", "limit=1001", "limit=-1", "limit=1e3", "before=x", "status=Done", "action=nosuch", "guest=BAD!", "wait=1s&limit=0x10"},
		"/guests":         {"limit=-1", "after=x", "name=-x", "name=UPPER", "limit=99999999999999999999", "after=" + strings.Repeat("0", 36)},
		gp + "/jobs":      {"limit=0", "before=zz", "status=running"},
		"/jobs/" + g.done: {"wait=forever", "wait=-1s", "wait=6m", "wait=1e9h"},
		"/events":         {"since=-1", "since=abc", "since=1.5", "since=99999999999999999999", "format=json&limit=0", "format=json&wait=x", "format=yaml&since=x"},
	}
	q := one(g.rng, bad[base])
	method := "GET"
	if base == "/jobs/"+g.done && g.rng.IntN(2) == 0 {
		return g.request("POST", gp+"/start?"+q, nil), false // an async route's ?wait=
	}
	switch g.rng.IntN(6) {
	case 0:
		return g.request("POST", gp+"/stop?dry_run="+url.QueryEscape(one(g.rng, []string{"maybe", "2", "yes", "tru"})), nil), false
	case 1: // a query that does not parse whole, or names a parameter twice: never a real action
		return g.request(one(g.rng, []string{"POST", "DELETE"}), gp+one(g.rng, []string{"", "/stop", "/start"})+
			"?"+one(g.rng, []string{"a=1;dry_run=true", "dry_run=true;", "dry_run=%zz", "dry_run=false&dry_run=true"}), nil), false
	}
	return g.request(method, base+"?"+q, nil), false
}

// badHeader: missing, wrong and under-scoped tokens, foreign Host and
// Origin, wrong Content-Type, oversized Idempotency-Key, bad
// Last-Event-ID.
func (g *malformedGen) badHeader() ([]byte, bool) {
	gp := g.guest
	body := []byte(`{"name":"ok-name"}`)
	switch g.rng.IntN(8) {
	case 0:
		return g.request("GET", "/guests", nil, "-Authorization"), false
	case 1:
		return g.request("GET", "/jobs", nil, "Authorization: "+one(g.rng, []string{"Bearer wrong", "Basic YTpi", "Bearer", "Bearer  ", "bearer", "Token " + g.token})), false
	case 2:
		return g.request("PATCH", gp, body, "Authorization: Bearer "+readSecret), false
	case 3:
		return g.request("GET", "/guests", nil, "Host: "+one(g.rng, []string{"evil.example", "127.0.0.2:1", "localhost"})), false
	case 4:
		return g.request("PATCH", gp, body, "Origin: "+one(g.rng, []string{"http://evil.example", "null", "file://", "http://" + g.host + "/x"})), false
	case 5:
		return g.request("PATCH", gp, body, "Content-Type: "+one(g.rng, []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"})), false
	case 6:
		key := strings.Repeat("k", 256+g.rng.IntN(16<<10))
		return g.request("POST", gp+"/start", nil, "Idempotency-Key: "+key), false
	default:
		return g.request("GET", "/events", nil, "Last-Event-ID: "+one(g.rng, []string{"x", "-5", "1.0", "0x1", "99999999999999999999"})), false
	}
}

// badMethod: methods a path does not serve, and unknown methods.
func (g *malformedGen) badMethod() ([]byte, bool) {
	gp := g.guest
	pairs := [][2]string{
		{"PUT", "/guests"}, {"TRACE", "/jobs"}, {"FOO", "/healthz"}, {"OPTIONS", "/guests"}, {"PATCH", "/jobs/" + g.done},
		{"DELETE", "/healthz"}, {"POST", "/jobs"}, {"PUT", gp}, {"GET", gp + "/start"}, {"DELETE", "/metadata"},
		{"get", "/guests"}, {"POST", "/events"}, {"PROPFIND", "/"}, {"DELETE", "/queue"}, {"PATCH", "/images"},
	}
	p := one(g.rng, pairs)
	return g.request(p[0], p[1], nil), false
}

// badLength: bad Content-Length and Transfer-Encoding headers, and bodies
// shorter than declared or cut mid-chunk.
func (g *malformedGen) badLength() ([]byte, bool) {
	gp := g.guest
	body := []byte(`{"name":"ok-name"}`)
	switch g.rng.IntN(7) {
	case 0:
		return g.request("PATCH", gp, body, "Content-Length: "+one(g.rng, []string{"abc", "-1", "1e3", "0x10", " ", "99999999999999999999"})), true
	case 1:
		return g.request("PATCH", gp, body, "+Content-Length: 5"), true
	case 2:
		short := strconv.Itoa(len(body) + 1 + g.rng.IntN(1000))
		return g.request("PATCH", gp, body, "Content-Length: "+short), true
	case 3:
		return g.request("PATCH", gp, body, "Content-Length: "+strconv.Itoa(1<<20+1+g.rng.IntN(1<<30))), true
	case 4:
		return g.request("PATCH", gp, body, "-Content-Length", "Transfer-Encoding: "+one(g.rng, []string{"gzip", "chunked, gzip", "identity", "x"})), true
	case 5:
		chunked := []byte(one(g.rng, []string{"zz\r\n{}\r\n0\r\n\r\n", "5\r\n{}\r\n", "2\r\n{}", "-1\r\n\r\n", "ffffffffffffffffff\r\nx\r\n"}))
		return g.request("PATCH", gp, chunked, "-Content-Length", "Transfer-Encoding: chunked"), true
	default:
		return g.request("PATCH", gp, body, "Transfer-Encoding: chunked"), true // both: a smuggling attempt
	}
}

// badHTTP: requests broken at the HTTP level: the request line, the
// version, header syntax, a missing or doubled Host, headers over the
// size limit, an unknown Expect, random bytes.
func (g *malformedGen) badHTTP() ([]byte, bool) {
	host := "Host: " + g.host + "\r\n"
	switch g.rng.IntN(10) {
	case 0:
		return []byte("GET /guests HTTP/1.1\r\n\r\n"), true // no Host
	case 1:
		return []byte("GET /guests HTTP/" + one(g.rng, []string{"2.0", "3.0", "1.2", "0.9", "x", "1"}) + "\r\n" + host + "\r\n"), true
	case 2:
		return []byte(one(g.rng, []string{"GET\r\n", "GET /guests\r\n", " / HTTP/1.1\r\n", "GET  /guests  HTTP/1.1\r\n", "G\x00T / HTTP/1.1\r\n", "GET guests HTTP/1.1\r\n", "GET /%zz HTTP/1.1\r\n", "CONNECT /guests HTTP/1.1\r\n"}) + host + "\r\n"), true
	case 3:
		return []byte("GET /guests HTTP/1.1\r\n" + host + one(g.rng, []string{"Bad Header\r\n", "X Y: z\r\n", ": v\r\n", "X-A: \x00\r\n", "X-A: a\r\n b\r\n", "X-\x7f: 1\r\n"}) + "\r\n"), true
	case 4:
		return []byte("GET /guests HTTP/1.1\r\n" + host + "Host: other\r\n\r\n"), true
	case 5:
		return []byte("GET /guests HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("b", malformedHeaderLimit+4096+g.rng.IntN(32<<10)) + "\r\n\r\n"), true
	case 6:
		return []byte("POST /guests HTTP/1.1\r\n" + host + "Authorization: Bearer " + g.token + "\r\nContent-Type: application/json\r\nContent-Length: 12\r\nExpect: " + one(g.rng, []string{"200-ok", "x", "100-continue, foo"}) + "\r\n\r\n{\"memroy\":1}"), true
	case 7:
		return []byte("GET /guests HTTP/1.1\r\nHost: " + one(g.rng, []string{"a b", "a/b", "[::1", "x\x01"}) + "\r\n\r\n"), true
	default:
		junk := make([]byte, 1+g.rng.IntN(200))
		for i := range junk {
			junk[i] = byte(g.rng.IntN(256))
			if junk[i] == '\n' || junk[i] == '\r' {
				junk[i] = 'x'
			}
		}
		return append(junk, "\r\n\r\n"...), true
	}
}
