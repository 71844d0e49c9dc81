package subagent

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseGuest reads a Guest's JSON in the one form json.Marshal writes it
// (keys in the struct's order, omitempty fields left out, no whitespace,
// map keys sorted) without reflection: a page of guests decodes a
// thousand of them from the store, a REST client one per action, and a
// sub-agent call one each way.

// guestReader reads JSON in json.Marshal's form from s, from pos on. Any
// other form sets failed; the reads after that give zero values.
type guestReader struct {
	s      string
	pos    int
	failed bool
}

// key consumes key (with its leading , or { and trailing :) and reports
// whether it was there; a missing key is no failure.
func (r *guestReader) key(key string) bool {
	if r.failed || !strings.HasPrefix(r.s[r.pos:], key) {
		return false
	}
	r.pos += len(key)
	return true
}

// need is key for a key that must be there.
func (r *guestReader) need(key string) bool {
	ok := r.key(key)
	if !ok {
		r.failed = true
	}
	return ok
}

// byte consumes c and reports whether it was there; a missing c is no
// failure.
func (r *guestReader) byte(c byte) bool {
	if r.failed || r.pos >= len(r.s) || r.s[r.pos] != c {
		return false
	}
	r.pos++
	return true
}

// str reads a string. One without escapes, control characters or invalid
// UTF-8 is cut from s without a copy; any other is left to encoding/json,
// so it decodes exactly as json.Unmarshal would.
func (r *guestReader) str() string {
	if r.failed || r.pos >= len(r.s) || r.s[r.pos] != '"' {
		r.failed = true
		return ""
	}
	start, plain := r.pos+1, true
	i := start
	for ; i < len(r.s) && r.s[i] != '"'; i++ {
		switch c := r.s[i]; {
		case c == '\\':
			plain = false
			i++ // the escaped character cannot end the string
		case c < 0x20 || c >= utf8.RuneSelf:
			plain = false
		}
	}
	if i >= len(r.s) {
		r.failed = true
		return ""
	}
	r.pos = i + 1
	if plain || utf8.ValidString(r.s[start:i]) && !hasEscapeOrControl(r.s[start:i]) {
		return r.s[start:i]
	}
	var v string
	if err := json.Unmarshal([]byte(r.s[start-1:r.pos]), &v); err != nil {
		r.failed = true
	}
	return v
}

// hasEscapeOrControl reports whether s has a backslash or a control
// character, which a JSON string does not hold as they are.
func hasEscapeOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] < 0x20 {
			return true
		}
	}
	return false
}

// digits reads a JSON integer (an optional minus, then 0 or digits not
// starting with 0, no fraction or exponent) and returns its text.
func (r *guestReader) digits() string {
	if r.failed {
		return ""
	}
	n := r.pos
	if n < len(r.s) && r.s[n] == '-' {
		n++
	}
	first := n
	for n < len(r.s) && r.s[n] >= '0' && r.s[n] <= '9' {
		n++
	}
	if n == first || (r.s[first] == '0' && n > first+1) ||
		(n < len(r.s) && (r.s[n] == '.' || r.s[n] == 'e' || r.s[n] == 'E')) {
		r.failed = true
		return ""
	}
	text := r.s[r.pos:n]
	r.pos = n
	return text
}

// int reads an int as json.Unmarshal does: out of range is a failure.
func (r *guestReader) int() int {
	v, err := strconv.ParseInt(r.digits(), 10, strconv.IntSize)
	if r.failed || err != nil {
		r.failed = true
		return 0
	}
	return int(v)
}

// uint reads an unsigned integer of bits bits as json.Unmarshal does: a
// minus sign or out of range is a failure.
func (r *guestReader) uint(bits int) uint64 {
	v, err := strconv.ParseUint(r.digits(), 10, bits)
	if r.failed || err != nil {
		r.failed = true
		return 0
	}
	return v
}

// ParseGuest decodes data, a guest's JSON as json.Marshal writes it, into
// *g, which it overwrites. It reports false, leaving *g unchanged, for any
// other form: the caller leaves that to json.Unmarshal. The Guest's
// strings share data's memory.
func ParseGuest(data string, g *Guest) bool {
	r := guestReader{s: data}
	v := r.guest()
	if r.failed || r.pos != len(r.s) {
		return false
	}
	*g = v
	return true
}

// guest reads a Guest object.
func (r *guestReader) guest() Guest {
	var v Guest
	if r.need(`{"id":`) {
		v.ID = r.str()
	}
	if r.key(`,"name":`) {
		v.Name = r.str()
	}
	if r.key(`,"type":`) {
		v.Type = r.str()
	}
	if r.key(`,"image":`) {
		v.Image = r.str()
	}
	if r.key(`,"nics":`) {
		v.Nics = parseNics(r)
	}
	if r.key(`,"disks":`) {
		v.Disks = parseDisks(r)
	}
	parseGuestTail(r, &v)
	return v
}

// parseGuestTail reads the keys from state to the end of the object.
func parseGuestTail(r *guestReader, v *Guest) {
	if r.key(`,"state":`) {
		v.State = r.str()
	}
	if r.key(`,"memory":`) {
		v.Memory = uint(r.uint(strconv.IntSize))
	}
	if r.key(`,"cpu":`) {
		v.CPU = uint(r.uint(strconv.IntSize))
	}
	if r.key(`,"vnc":`) {
		v.VNC = r.int()
	}
	if r.key(`,"metadata":`) {
		v.Metadata = parseMetadata(r)
	}
	if r.key(`,"boot":`) {
		v.Boot = parseBoot(r)
	}
	if r.key(`,"autostart":`) {
		v.Autostart = r.key(`true`) || !r.need(`false`)
	}
	if !r.byte('}') {
		r.failed = true
	}
}

// parseMetadata reads an object of strings; an empty one is an empty
// map, as json.Unmarshal makes it, and of a key given twice the last
// value stands, as there.
func parseMetadata(r *guestReader) map[string]string {
	md := map[string]string{}
	if !r.need(`{`) || r.byte('}') {
		return md
	}
	for !r.failed {
		k := r.str()
		r.need(`:`)
		md[k] = r.str()
		if r.byte('}') {
			break
		}
		r.need(`,`)
	}
	return md
}

// parseNics reads an array of Nics; an empty one is an empty slice, as
// json.Unmarshal makes it.
func parseNics(r *guestReader) []Nic {
	nics := []Nic{}
	if !r.need(`[`) || r.byte(']') {
		return nics
	}
	for !r.failed {
		var n Nic
		parseNic(r, &n)
		nics = append(nics, n)
		if r.byte(']') {
			break
		}
		r.need(`,`)
	}
	return nics
}

// parseNic reads one Nic object.
func parseNic(r *guestReader, n *Nic) {
	if !r.need(`{`) {
		return
	}
	sep := ""
	if r.key(`"name":`) {
		n.Name, sep = r.str(), ","
	}
	if r.need(sep + `"network":`) {
		n.Network = r.str()
	}
	if r.need(`,"model":`) {
		n.Model = r.str()
	}
	if r.key(`,"mac":`) {
		n.MAC = r.str()
	}
	if r.need(`,"address":`) {
		n.Address = r.str()
	}
	if r.need(`,"netmask":`) {
		n.Netmask = r.str()
	}
	if r.need(`,"gateway":`) {
		n.Gateway = r.str()
	}
	if r.key(`,"device":`) {
		n.Device = r.str()
	}
	if r.need(`,"vlans":`) && !r.key(`null`) {
		n.VLANs = parseInts(r)
	}
	if !r.byte('}') {
		r.failed = true
	}
}

// parseInts reads an array of ints; an empty one is an empty slice.
func parseInts(r *guestReader) []int {
	v := []int{}
	if !r.need(`[`) || r.byte(']') {
		return v
	}
	for !r.failed {
		v = append(v, r.int())
		if r.byte(']') {
			break
		}
		r.need(`,`)
	}
	return v
}

// parseDisks reads an array of Disks; an empty one is an empty slice.
func parseDisks(r *guestReader) []Disk {
	disks := []Disk{}
	if !r.need(`[`) || r.byte(']') {
		return disks
	}
	for !r.failed {
		var d Disk
		if r.need(`{"bus":`) {
			d.Bus = r.str()
		}
		if r.need(`,"device":`) {
			d.Device = r.str()
		}
		if r.need(`,"size":`) {
			d.Size = r.uint(64)
		}
		if r.need(`,"volume":`) {
			d.Volume = r.str()
		}
		if r.need(`,"image":`) {
			d.Image = r.str()
		}
		if r.need(`,"source":`) {
			d.Source = r.str()
		}
		r.need(`}`)
		disks = append(disks, d)
		if r.byte(']') {
			break
		}
		r.need(`,`)
	}
	return disks
}

// parseBoot reads a Boot object; {} is a Boot with no fields set.
func parseBoot(r *guestReader) *Boot {
	b := &Boot{}
	if !r.need(`{`) {
		return nil
	}
	sep := ""
	if r.key(`"kernel":`) {
		b.Kernel, sep = r.str(), ","
	}
	if r.key(sep + `"initrd":`) {
		b.Initrd, sep = r.str(), ","
	}
	if r.key(sep + `"cmdline":`) {
		b.Cmdline = r.str()
	}
	if !r.byte('}') {
		r.failed = true
	}
	return b
}
