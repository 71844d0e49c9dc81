package httpconn

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// responseResult is what a reader made of a reply: the fields of the
// Response, its body and the body's error, and what was left unread.
type responseResult struct {
	Status, Proto                string
	StatusCode, Major, Minor     int
	Header, Trailer              http.Header
	ContentLength                int64
	Close, Uncompressed, NilBody bool
	TransferEncoding             []string
	Body, Rest                   string
	Err, BodyErr                 string
}

func readWith(t *testing.T, read func(*bufio.Reader, *http.Request) (*http.Response, error), method, raw string) responseResult {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	req, err := http.NewRequest(method, "http://h/x", nil)
	require.NoError(t, err)
	resp, err := read(br, req)
	if err != nil {
		return responseResult{Err: err.Error()}
	}
	require.Same(t, req, resp.Request)
	r := responseResult{Status: resp.Status, Proto: resp.Proto, StatusCode: resp.StatusCode,
		Major: resp.ProtoMajor, Minor: resp.ProtoMinor, Header: resp.Header, Trailer: resp.Trailer,
		ContentLength: resp.ContentLength, Close: resp.Close, Uncompressed: resp.Uncompressed,
		TransferEncoding: resp.TransferEncoding, NilBody: resp.Body == nil}
	if resp.Body != nil {
		body, err := io.ReadAll(resp.Body)
		r.Body = string(body)
		if err != nil {
			r.BodyErr = err.Error()
		}
		// what ends the body: EOF at once, as net/http's body says it
		n, err := resp.Body.Read(make([]byte, 1))
		require.Zero(t, n)
		require.Error(t, err)
	}
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	r.Rest = string(rest)
	return r
}

func TestReadResponse(t *testing.T) {
	t.Parallel()
	const ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n" +
		"Date: Mon, 30 Nov 2026 20:00:00 GMT\r\nX-Guest-Job-Id: 1\r\n\r\nhello"
	for _, c := range []struct {
		name, method, raw string
		direct            bool
	}{
		{"ok", "GET", ok, true},
		{"ok and the next reply", "GET", ok + "HTTP/1.1 200 OK\r\n", true},
		{"202", "POST", strings.Replace(ok, "200 OK", "202 Accepted", 1), true},
		{"404", "GET", strings.Replace(ok, "200 OK", "404 Not Found", 1), true},
		{"no reason", "GET", strings.Replace(ok, "200 OK", "200", 1), true},
		{"empty body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nnext", true},
		{"lowercase keys, blanks, repeats", "GET", "HTTP/1.1 200 OK\r\ncontent-length:2\r\nx-a: \t1 \r\nX-A:2\r\n" +
			"x-b:\r\n\r\nhi", true},
		{"leading zeros", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 002\r\n\r\nhi", true},
		{"truncated body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhi", true},
		{"head", "HEAD", ok, false},
		{"204", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false},
		{"304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n", false},
		{"100 then 200", "GET", "HTTP/1.1 100 Continue\r\n\r\n" + ok, false},
		{"no length", "GET", "HTTP/1.1 200 OK\r\n\r\nto the end", false},
		{"two lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", false},
		{"bad length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nhi", false},
		{"signed length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nhi", false},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", false},
		{"close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", false},
		{"pragma", "GET", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\nhi", false},
		{"trailer", "GET", "HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 2\r\n\r\nhi", false},
		{"HTTP/1.0", "GET", strings.Replace(ok, "HTTP/1.1", "HTTP/1.0", 1), false},
		{"two spaces", "GET", strings.Replace(ok, "HTTP/1.1 ", "HTTP/1.1  ", 1), false},
		{"long code", "GET", strings.Replace(ok, "200 OK", "2000 OK", 1), false},
		{"bad code", "GET", strings.Replace(ok, "200 OK", "2x0 OK", 1), false},
		{"folded", "GET", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nhi", false},
		{"space before colon", "GET", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nhi", false},
		{"no colon", "GET", "HTTP/1.1 200 OK\r\nX-A\r\nContent-Length: 2\r\n\r\nhi", false},
		{"non-ASCII", "GET", "HTTP/1.1 200 OK\r\nX-A: é\r\nContent-Length: 2\r\n\r\nhi", false},
		{"control byte", "GET", "HTTP/1.1 200 OK\r\nX-A: a\x01\r\nContent-Length: 2\r\n\r\nhi", false},
		{"bare LF", "GET", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", false},
		{"header cut short", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false},
		{"nothing", "GET", "", false},
		{"many lines", "GET", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: 1\r\n", 70) + "Content-Length: 0\r\n\r\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := readWith(t, http.ReadResponse, c.method, c.raw)
			got := readWith(t, readResponse, c.method, c.raw)
			require.Equal(t, want, got)
			req, err := http.NewRequest(c.method, "http://h/x", nil)
			require.NoError(t, err)
			br := bufio.NewReader(strings.NewReader(c.raw))
			_, _ = br.Peek(1)
			require.Equal(t, c.direct, plainResponse(br, req) != nil)
		})
	}
}

// TestReadResponse_Error: an error reading the first byte is the error
// http.ReadResponse gives.
func TestReadResponse_Error(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequest(http.MethodGet, "http://h/x", nil)
	require.NoError(t, err)
	boom := errors.New("boom")
	_, err = readResponse(bufio.NewReader(io.MultiReader(errReader{boom}, errReader{boom})), req)
	require.ErrorIs(t, err, boom)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzReadResponse: on any input, readResponse gives what
// http.ReadResponse gives.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi")
	f.Add("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		require.Equal(t, readWith(t, http.ReadResponse, "GET", raw), readWith(t, readResponse, "GET", raw))
	})
}

// BenchmarkReadResponse compares readResponse with http.ReadResponse on
// the reply rest.Client reads for a guest action: a 202 whose header
// carries the queued job as JSON (X-Guest-Job) and whose body is the guest.
func BenchmarkReadResponse(b *testing.B) {
	const id = "6f1c2b1e-8d3a-4c55-9a51-3c0e9b7f7a10"
	job := `{"ID":"` + id + `","GuestID":"0b8a2c4e-1f2d-4e6b-8c9a-7d5e3f1a2b3c","Action":"start",` +
		`"QueuedAt":"2026-12-01T03:20:00.123456789Z","StartedAt":"0001-01-01T00:00:00Z",` +
		`"UpdatedAt":"2026-12-01T03:20:00.123456789Z","Status":"Queued","Message":"","Stage":"",` +
		`"StageStartedAt":"0001-01-01T00:00:00Z","Position":1,"Attempt":0,"RequestedBy":"local",` +
		`"FinishedAt":"0001-01-01T00:00:00Z"}`
	body := strings.Repeat("g", 400)
	raw := "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nLocation: /jobs/" + id +
		"\r\nX-Guest-Job: " + job + "\r\nX-Guest-Job-Id: " + id +
		"\r\nDate: Tue, 01 Dec 2026 03:20:00 GMT\r\nContent-Length: 400\r\n\r\n" + body
	req, err := http.NewRequest(http.MethodPost, "http://h/guests/x/start", nil)
	require.NoError(b, err)
	sr := strings.NewReader(raw)
	br := bufio.NewReaderSize(sr, 4096)
	for _, side := range []struct {
		name string
		read func(*bufio.Reader, *http.Request) (*http.Response, error)
	}{
		{"direct", readResponse},
		{"ReadResponse", http.ReadResponse},
	} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sr.Reset(raw)
				br.Reset(sr)
				resp, err := side.read(br, req)
				if err != nil || resp.StatusCode != http.StatusAccepted || resp.ContentLength != 400 {
					b.Fatalf("reply %v, error %v", resp, err)
				}
			}
		})
	}
}
