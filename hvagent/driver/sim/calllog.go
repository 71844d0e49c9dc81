package sim

import (
	"encoding/json"
	"fmt"
)

// callRing keeps the newest size calls.
type callRing struct {
	size  int
	buf   []Call
	start int // index of the oldest call once buf is full
}

// add appends c, dropping the oldest call when the ring is full.
func (r *callRing) add(c Call) {
	if len(r.buf) < r.size {
		r.buf = append(r.buf, c)
		return
	}
	r.buf[r.start] = c
	r.start = (r.start + 1) % r.size
}

// calls returns a copy of the calls, oldest first.
func (r *callRing) calls() []Call {
	out := make([]Call, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// writeExecLog writes c to Options.ExecLog as one JSON line, unless an
// earlier write failed. d.mu is held.
func (d *Driver) writeExecLog(c Call) {
	if d.opts.ExecLog == nil || d.execErr != nil {
		return
	}
	line, err := json.Marshal(c)
	if err == nil {
		_, err = d.opts.ExecLog.Write(append(line, '\n'))
	}
	if err != nil {
		d.execErr = fmt.Errorf("write execution log: %w", err)
	}
}
