package rest

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hvagent/hvagent/hvagent"
)

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

// checkEscapes refuses a \u escape of a lone UTF-16 surrogate in a JSON
// string (a high one not followed by a low one, or a low one alone), which
// encoding/json would silently turn into U+FFFD. Other bad escapes are
// left for the decoder to name.
func checkEscapes(b []byte) error {
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			inString = !inString
		case b[i] != '\\' || !inString:
		case i+1 < len(b) && b[i+1] == 'u':
			n, err := surrogateEscape(b, i)
			if err != nil {
				return err
			}
			i += n - 1
		default:
			i++ // \" and the other one-letter escapes
		}
	}
	return nil
}

// surrogateEscape checks the \u escape at b[i:] and returns its length:
// 6, or 12 for a surrogate pair.
func surrogateEscape(b []byte, i int) (int, error) {
	r, ok := hex4(b, i+2)
	switch {
	case !ok || !utf16.IsSurrogate(r):
		return 6, nil
	case r < 0xdc00: // a high surrogate: a low one must follow
		if lo, ok := hex4(b, i+8); ok && b[i+6] == '\\' && b[i+7] == 'u' && lo >= 0xdc00 && lo < 0xe000 {
			return 12, nil
		}
	}
	return 0, hvagent.Errorf(hvagent.EINVALID, "request body: lone UTF-16 surrogate %s at offset %d", b[i:i+6], i)
}

// hex4 parses the 4 hex digits at b[at:], if there are.
func hex4(b []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
	return rune(n), err == nil
}

// clientGone reports whether err comes from the request's client having
// gone away (its context cancelled), which is no fault of the agent.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled)
}
