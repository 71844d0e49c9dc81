package httpconn

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// readResponse reads a reply to req from br as http.ReadResponse does. A
// plain reply whose header is already buffered whole (HTTP/1.1, a status
// with a body, a Content-Length, no Connection, Transfer-Encoding,
// Trailer or Pragma field, no folded lines, printable ASCII) is read directly: one
// string for the whole header, which its keys and values share, and one
// slice for its values, where ReadResponse allocates each key and value.
// Any other reply goes to ReadResponse, with nothing of it consumed.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if _, err := br.Peek(1); err == nil { // wait for the reply to start
		if resp := plainResponse(br, req); resp != nil {
			return resp, nil
		}
	}
	return http.ReadResponse(br, req)
}

// maxPlainLines bounds the header lines of a reply plainResponse reads.
const maxPlainLines = 64

// plainResponse returns the reply at the start of br's buffer, consuming
// its header, when it is plain (see readResponse); else nil, consuming
// nothing.
func plainResponse(br *bufio.Reader, req *http.Request) *http.Response {
	if req.Method == http.MethodHead { // a reply without its body
		return nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	text := string(buf[:end+2]) // every line with its CRLF
	line, rest, _ := cutLine(text)
	code, status, ok := statusLine(line)
	if !ok {
		return nil
	}
	resp := &http.Response{Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Request: req, ContentLength: -1}
	if resp.Header, resp.ContentLength, ok = plainHeader(rest); !ok || resp.ContentLength < 0 {
		return nil
	}
	_, _ = br.Discard(end + 4)
	resp.Body = http.NoBody
	if resp.ContentLength > 0 {
		resp.Body = &lengthBody{r: br, left: resp.ContentLength}
	}
	return resp
}

// cutLine cuts the first CRLF-ended line off s.
func cutLine(s string) (line, rest string, ok bool) {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i], s[i+2:], true
	}
	return "", s, false
}

// statusLine parses "HTTP/1.1 NNN reason" for a status whose reply has a
// body: 200 to 599 but 204 and 304.
func statusLine(line string) (code int, status string, ok bool) {
	const proto = "HTTP/1.1 "
	if len(line) < len(proto)+3 || line[:len(proto)] != proto || !plainBytes(line) {
		return 0, "", false
	}
	status = line[len(proto):]
	if len(status) > 3 && status[3] != ' ' {
		return 0, "", false
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 200 || code > 599 || code == 204 || code == 304 || status[0] == '+' {
		return 0, "", false
	}
	return code, status, true
}

// plainHeader parses the header lines in text (each ended by CRLF) and
// returns the header and its Content-Length (-1 when it has none). ok is
// false for a header that is not plain.
func plainHeader(text string) (h http.Header, length int64, ok bool) {
	n := strings.Count(text, "\r")
	if n > maxPlainLines {
		return nil, -1, false
	}
	h = make(http.Header, n)
	values := make([]string, 0, n)
	length = -1
	for line, rest, more := cutLine(text); more; line, rest, more = cutLine(rest) {
		key, value, found := cutField(line)
		if !found {
			return nil, -1, false
		}
		switch key {
		case "Connection", "Transfer-Encoding", "Trailer", "Pragma": // net/http acts on these
			return nil, -1, false
		case "Content-Length":
			if length >= 0 || !digits(value) {
				return nil, -1, false
			}
			length, _ = strconv.ParseInt(value, 10, 64)
		}
		values = append(values, value)
		if vs := h[key]; vs != nil {
			h[key] = append(vs, value)
		} else {
			h[key] = values[len(values)-1 : len(values) : len(values)]
		}
	}
	return h, length, true
}

// cutField splits a header line into its canonical key and its value
// without surrounding blanks; found is false for a line that is not a
// plain field (no colon, a key that is not a token, a folded line,
// control or non-ASCII bytes).
func cutField(line string) (key, value string, found bool) {
	colon := -1
	for i := 0; i < len(line); i++ {
		if line[i] == ':' {
			colon = i
			break
		}
		if !tokenByte(line[i]) {
			return "", "", false
		}
	}
	if colon <= 0 || !plainBytes(line[colon+1:]) {
		return "", "", false
	}
	value = line[colon+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	return textproto.CanonicalMIMEHeaderKey(line[:colon]), value, true
}

// tokenByte reports whether c may be in a header field's name.
func tokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// plainBytes reports whether s is printable ASCII or tabs.
func plainBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}

// digits reports whether s is a decimal number short enough for an int64.
func digits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lengthBody is the body of a reply with a Content-Length: it ends after
// that many bytes, and an end of the connection before is
// io.ErrUnexpectedEOF, as net/http's body has it.
type lengthBody struct {
	r    io.Reader
	left int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Close does nothing: the Pool's body wrapper decides the connection's fate.
func (b *lengthBody) Close() error { return nil }
