package rest

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/hvagent/hvagent/hvagent"
)

// cleanPaths refuses a path that is not in clean form (a . or .. segment,
// an empty segment such as //) with a JSON 400, where http.ServeMux would
// answer a redirect that a client may follow with the same method.
func (s *server) cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; !isCleanPath(p) {
			s.writeError(w, r, hvagent.Errorf(hvagent.EINVALID,
				"path %q is not in clean form: no empty, . or .. segments", p))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isCleanPath reports whether p is absolute and path.Clean leaves it alone,
// a trailing slash aside.
func isCleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}

// checkUTF8 refuses a body that is not valid UTF-8, which encoding/json
// would silently turn into U+FFFD.
func checkUTF8(b []byte) error {
	for off := 0; off < len(b); {
		r, n := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && n == 1 {
			return hvagent.Errorf(hvagent.EINVALID, "request body: invalid UTF-8 at offset %d", off)
		}
		off += n
	}
	return nil
}

// clientGone reports whether err comes from the request's client having
// gone away (its context cancelled), which is no fault of the agent.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled)
}
