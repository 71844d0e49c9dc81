package subagent

import (
	"strconv"

	"github.com/hvagent/hvagent/internal/jsonform"
)

// ParseGuest decodes data, a guest's JSON in the one form json.Marshal
// writes it (keys in the struct's order, omitempty fields left out, no
// whitespace, map keys sorted), into *g, which it overwrites, without
// reflection: a page of guests decodes a thousand of them from the store,
// a REST client one per action, and a sub-agent call one each way. It
// reports false, leaving *g unchanged, for any other form: the caller
// leaves that to json.Unmarshal. The Guest's strings share data's memory.
func ParseGuest(data string, g *Guest) bool {
	r := jsonform.NewReader(data)
	v := parseGuest(&r)
	if !r.Done() {
		return false
	}
	*g = v
	return true
}

// parseGuest reads a Guest object.
func parseGuest(r *jsonform.Reader) Guest {
	var v Guest
	if r.Need(`{"id":`) {
		v.ID = r.Str()
	}
	if r.Key(`,"name":`) {
		v.Name = r.Str()
	}
	if r.Key(`,"type":`) {
		v.Type = r.Str()
	}
	if r.Key(`,"image":`) {
		v.Image = r.Str()
	}
	if r.Key(`,"nics":`) {
		v.Nics = parseNics(r)
	}
	if r.Key(`,"disks":`) {
		v.Disks = parseDisks(r)
	}
	parseGuestTail(r, &v)
	return v
}

// parseGuestTail reads the keys from state to the end of the object.
func parseGuestTail(r *jsonform.Reader, v *Guest) {
	if r.Key(`,"state":`) {
		v.State = r.Str()
	}
	if r.Key(`,"memory":`) {
		v.Memory = uint(r.Uint(strconv.IntSize))
	}
	if r.Key(`,"cpu":`) {
		v.CPU = uint(r.Uint(strconv.IntSize))
	}
	if r.Key(`,"vnc":`) {
		v.VNC = r.Int()
	}
	if r.Key(`,"metadata":`) {
		v.Metadata = parseMetadata(r)
	}
	if r.Key(`,"boot":`) {
		v.Boot = parseBoot(r)
	}
	if r.Key(`,"autostart":`) {
		v.Autostart = r.Key(`true`) || !r.Need(`false`)
	}
	if !r.Byte('}') {
		r.Fail()
	}
}

// parseMetadata reads an object of strings; an empty one is an empty
// map, as json.Unmarshal makes it, and of a key given twice the last
// value stands, as there.
func parseMetadata(r *jsonform.Reader) map[string]string {
	md := map[string]string{}
	if !r.Need(`{`) || r.Byte('}') {
		return md
	}
	for !r.Failed() {
		k := r.Str()
		r.Need(`:`)
		md[k] = r.Str()
		if r.Byte('}') {
			break
		}
		r.Need(`,`)
	}
	return md
}

// parseNics reads an array of Nics; an empty one is an empty slice, as
// json.Unmarshal makes it.
func parseNics(r *jsonform.Reader) []Nic {
	nics := []Nic{}
	if !r.Need(`[`) || r.Byte(']') {
		return nics
	}
	for !r.Failed() {
		var n Nic
		parseNic(r, &n)
		nics = append(nics, n)
		if r.Byte(']') {
			break
		}
		r.Need(`,`)
	}
	return nics
}

// parseNic reads one Nic object.
func parseNic(r *jsonform.Reader, n *Nic) {
	if !r.Need(`{`) {
		return
	}
	sep := ""
	if r.Key(`"name":`) {
		n.Name, sep = r.Str(), ","
	}
	if r.Need(sep + `"network":`) {
		n.Network = r.Str()
	}
	if r.Need(`,"model":`) {
		n.Model = r.Str()
	}
	if r.Key(`,"mac":`) {
		n.MAC = r.Str()
	}
	if r.Need(`,"address":`) {
		n.Address = r.Str()
	}
	if r.Need(`,"netmask":`) {
		n.Netmask = r.Str()
	}
	if r.Need(`,"gateway":`) {
		n.Gateway = r.Str()
	}
	if r.Key(`,"device":`) {
		n.Device = r.Str()
	}
	if r.Need(`,"vlans":`) && !r.Key(`null`) {
		n.VLANs = parseInts(r)
	}
	if !r.Byte('}') {
		r.Fail()
	}
}

// parseInts reads an array of ints; an empty one is an empty slice.
func parseInts(r *jsonform.Reader) []int {
	v := []int{}
	if !r.Need(`[`) || r.Byte(']') {
		return v
	}
	for !r.Failed() {
		v = append(v, r.Int())
		if r.Byte(']') {
			break
		}
		r.Need(`,`)
	}
	return v
}

// parseDisks reads an array of Disks; an empty one is an empty slice.
func parseDisks(r *jsonform.Reader) []Disk {
	disks := []Disk{}
	if !r.Need(`[`) || r.Byte(']') {
		return disks
	}
	for !r.Failed() {
		var d Disk
		if r.Need(`{"bus":`) {
			d.Bus = r.Str()
		}
		if r.Need(`,"device":`) {
			d.Device = r.Str()
		}
		if r.Need(`,"size":`) {
			d.Size = r.Uint(64)
		}
		if r.Need(`,"volume":`) {
			d.Volume = r.Str()
		}
		if r.Need(`,"image":`) {
			d.Image = r.Str()
		}
		if r.Need(`,"source":`) {
			d.Source = r.Str()
		}
		r.Need(`}`)
		disks = append(disks, d)
		if r.Byte(']') {
			break
		}
		r.Need(`,`)
	}
	return disks
}

// parseBoot reads a Boot object; {} is a Boot with no fields set.
func parseBoot(r *jsonform.Reader) *Boot {
	b := &Boot{}
	if !r.Need(`{`) {
		return nil
	}
	sep := ""
	if r.Key(`"kernel":`) {
		b.Kernel, sep = r.Str(), ","
	}
	if r.Key(sep + `"initrd":`) {
		b.Initrd, sep = r.Str(), ","
	}
	if r.Key(sep + `"cmdline":`) {
		b.Cmdline = r.Str()
	}
	if !r.Byte('}') {
		r.Fail()
	}
	return b
}
