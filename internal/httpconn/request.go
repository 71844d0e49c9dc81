package httpconn

import (
	"bufio"
	"net/http"
	"net/http/httptrace"
	"slices"
)

// writeRequest writes req to bw as http.Request.Write does. A plain
// request (no body, no trailer or transfer coding, no client trace, a
// host, URI and headers that Write would copy unchanged) is written
// directly, the same bytes Write gives: Write formats its lines with
// fmt and builds a transfer writer and a sorted copy of the header for
// every request, a cost each request of a keep-alive client pays. Any
// other request goes to Write.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	var keys [8]string
	host, ruri, sorted, ok := directHead(req, keys[:0])
	if !ok {
		return req.Write(bw)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	line(bw, method, " ", ruri, " HTTP/1.1")
	line(bw, "Host: ", host)
	ua := "Go-http-client/1.1" // Write's default
	if _, set := req.Header["User-Agent"]; set {
		ua = req.Header.Get("User-Agent")
	}
	if ua != "" {
		line(bw, "User-Agent: ", ua)
	}
	switch method { // Write's Content-Length of a request without a body
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		line(bw, "Content-Length: 0")
	}
	for _, k := range sorted {
		for _, v := range req.Header[k] {
			line(bw, k, ": ", v)
		}
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// directHead returns the Host, request URI and the header keys Write
// copies from the header (in its order, appended to keys) of a request
// writeRequest writes itself; ok is false for any other.
func directHead(req *http.Request, keys []string) (host, ruri string, sorted []string, ok bool) {
	if !plainRequest(req) {
		return "", "", nil, false
	}
	host = req.Host
	if host == "" {
		host = req.URL.Host
	}
	ruri = req.URL.RequestURI()
	if !plainHost(host) || !plainText(ruri) {
		return "", "", nil, false
	}
	sorted, ok = plainHeaderKeys(req.Header, keys)
	return host, ruri, sorted, ok
}

// line writes the concatenation of parts and CRLF; a write error stays in
// bw and is returned by its next write or Flush.
func line(bw *bufio.Writer, parts ...string) {
	for _, p := range parts {
		_, _ = bw.WriteString(p)
	}
	_, _ = bw.WriteString("\r\n")
}

// plainRequest reports whether req has none of what makes Write do more
// than copy its request line and header: a body, a declared length,
// Connection: close, a transfer coding or trailer, a client trace, or a
// method Write treats on its own (CONNECT).
func plainRequest(req *http.Request) bool {
	return req.URL != nil && (req.Body == nil || req.Body == http.NoBody) &&
		req.ContentLength == 0 && !req.Close && len(req.TransferEncoding) == 0 &&
		req.Trailer == nil && req.Method != http.MethodConnect && plainText(req.Method) &&
		httptrace.ContextClientTrace(req.Context()) == nil
}

// plainHost reports whether host is made of the bytes a host name, an IP
// address or a port is written with, which Write copies unchanged (no
// IDNA conversion, no zone to remove).
func plainHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// plainText reports whether s is printable ASCII without leading or
// trailing blanks: Write copies such a URI or header value unchanged.
func plainText(s string) bool {
	if s != "" && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Header keys Write produces itself rather than from the header.
var reqOwnHeader = map[string]bool{
	"Host": true, "User-Agent": true, "Content-Length": true,
	"Transfer-Encoding": true, "Trailer": true,
}

// plainHeaderKeys appends h's keys that Write copies from the header, in
// the order it writes them (sorted), to keys. It reports false when a key
// or value is not plain (Write would change it) or the user agent is not.
func plainHeaderKeys(h http.Header, keys []string) ([]string, bool) {
	for k, vs := range h {
		if !plainText(k) {
			return nil, false
		}
		for _, v := range vs {
			if !plainText(v) {
				return nil, false
			}
		}
		if !reqOwnHeader[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, true
}
