package main

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

// gzipReplies compresses every reply with gzip when the request's
// Accept-Encoding allows it, as the original mistify sub-agents do (their
// HTTP stack wraps the RPC server in gorilla/handlers' CompressHandler): a
// new gzip writer at the default level for each reply.
func gzipReplies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.ServeHTTP(w, r)
			return
		}
		zw := gzip.NewWriter(w)
		defer zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		h.ServeHTTP(&gzipWriter{ResponseWriter: w, zw: zw}, r)
	})
}

// acceptsGzip reports whether Accept-Encoding values list gzip without
// refusing it (q=0).
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := 1.0
			if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				q, _ = strconv.ParseFloat(v, 64) // unreadable: 0, refused
			}
			return q > 0
		}
	}
	return false
}

// gzipWriter sends a reply's body through a gzip writer.
type gzipWriter struct {
	http.ResponseWriter
	zw *gzip.Writer
}

// WriteHeader drops Content-Length, which counts the uncompressed bytes.
func (g *gzipWriter) WriteHeader(code int) {
	g.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

// Write compresses p.
func (g *gzipWriter) Write(p []byte) (int, error) {
	g.Header().Del("Content-Length")
	return g.zw.Write(p)
}

// Flush sends what is compressed so far.
func (g *gzipWriter) Flush() {
	_ = g.zw.Flush()
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}
