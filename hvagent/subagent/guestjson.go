package subagent

import (
	"slices"
	"strconv"

	"github.com/hvagent/hvagent/internal/jsonform"
)

// A page of guests is a thousand of them, a sub-agent call carries one each
// way, and encoding/json spent a large part of either in reflection.
// AppendGuest is the direct form of json.Marshal for a Guest: the same
// bytes, for every guest (a Guest has no field json.Marshal can fail on).
// It knows the fields of Guest, Nic, Disk and Boot; a test fails when they
// have others.

// AppendGuest appends g's JSON, the bytes json.Marshal(g) gives, to b.
func AppendGuest(b []byte, g *Guest) []byte {
	w := jsonform.Writer{B: b}
	w.Str(`{"id":`, g.ID)
	w.StrOmit(`,"name":`, g.Name)
	w.StrOmit(`,"type":`, g.Type)
	w.StrOmit(`,"image":`, g.Image)
	arrayOmit(&w, `,"nics":`, g.Nics, writeNic)
	arrayOmit(&w, `,"disks":`, g.Disks, writeDisk)
	w.StrOmit(`,"state":`, g.State)
	w.UintOmit(`,"memory":`, uint64(g.Memory))
	w.UintOmit(`,"cpu":`, uint64(g.CPU))
	if g.VNC != 0 {
		w.B = append(w.B, `,"vnc":`...)
		w.B = strconv.AppendInt(w.B, int64(g.VNC), 10)
	}
	if len(g.Metadata) > 0 {
		writeMetadata(&w, g.Metadata)
	}
	if g.Boot != nil {
		w.B = append(w.B, `,"boot":{`...)
		n := len(w.B)
		w.StrOmit(`,"kernel":`, g.Boot.Kernel)
		w.StrOmit(`,"initrd":`, g.Boot.Initrd)
		w.StrOmit(`,"cmdline":`, g.Boot.Cmdline)
		if len(w.B) > n { // the first key's comma goes
			w.B = append(w.B[:n], w.B[n+1:]...)
		}
		w.B = append(w.B, '}')
	}
	if g.Autostart {
		w.B = append(w.B, `,"autostart":true`...)
	}
	return append(w.B, '}')
}

// writeNic writes one Nic object.
func writeNic(w *jsonform.Writer, n *Nic) {
	if n.Name != "" {
		w.Str(`{"name":`, n.Name)
		w.Str(`,"network":`, n.Network)
	} else {
		w.Str(`{"network":`, n.Network)
	}
	w.Str(`,"model":`, n.Model)
	w.StrOmit(`,"mac":`, n.MAC)
	w.Str(`,"address":`, n.Address)
	w.Str(`,"netmask":`, n.Netmask)
	w.Str(`,"gateway":`, n.Gateway)
	w.StrOmit(`,"device":`, n.Device)
	if n.VLANs == nil {
		w.B = append(w.B, `,"vlans":null}`...)
		return
	}
	w.B = append(w.B, `,"vlans":[`...)
	for i, v := range n.VLANs {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.B = strconv.AppendInt(w.B, int64(v), 10)
	}
	w.B = append(w.B, "]}"...)
}

// writeDisk writes one Disk object.
func writeDisk(w *jsonform.Writer, d *Disk) {
	w.Str(`{"bus":`, d.Bus)
	w.Str(`,"device":`, d.Device)
	w.B = append(w.B, `,"size":`...)
	w.B = strconv.AppendUint(w.B, d.Size, 10)
	w.Str(`,"volume":`, d.Volume)
	w.Str(`,"image":`, d.Image)
	w.Str(`,"source":`, d.Source)
	w.B = append(w.B, '}')
}

// writeMetadata writes the metadata object with its keys sorted, as
// json.Marshal writes a map.
func writeMetadata(w *jsonform.Writer, md map[string]string) {
	w.B = appendStringMap(append(w.B, `,"metadata":`...), md)
}

// appendStringMap appends m as json.Marshal writes a map of strings: its
// keys sorted.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonform.AppendString(b, k)
		b = append(b, ':')
		b = jsonform.AppendString(b, m[k])
	}
	return append(b, '}')
}

// arrayOmit writes key and the array of items, each by item, unless there
// are none (omitempty).
func arrayOmit[T any](w *jsonform.Writer, key string, items []T, item func(*jsonform.Writer, *T)) {
	if len(items) == 0 {
		return
	}
	w.B = append(w.B, key...)
	w.B = append(w.B, '[')
	for i := range items {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		item(w, &items[i])
	}
	w.B = append(w.B, ']')
}
