package subagent

import "io"

// readBody reads r to its end, at most limit+1 bytes (one more than a
// caller accepts, so that it can tell a body too large). size is the
// length the body declared (Content-Length), -1 when unknown: a body that
// declared a size within limit is read into a buffer of that size instead
// of one grown from 512 bytes, which for a reply of a few KiB is half a
// dozen allocations and copies.
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	r = io.LimitReader(r, limit+1)
	if size < 0 || size > limit {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // the extra byte sees a body longer than declared
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			rest, err := io.ReadAll(r)
			return append(b, rest...), err
		}
	}
}
