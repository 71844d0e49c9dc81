package wirejson

import (
	"slices"
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
)

// A page of guests is a thousand of them, and encoding/json spent a large
// part of serving one in reflection. AppendGuest is the direct form of
// json.Marshal for a Guest: the same bytes, for every guest (a Guest has
// no field json.Marshal can fail on). It knows the fields of
// guestgen.Known; a test fails when Guest, Nic, Disk or Boot have others.

// AppendGuest appends g's JSON, the bytes json.Marshal(g) gives, to b.
func AppendGuest(b []byte, g *hvagent.Guest) []byte {
	w := writer{b: b}
	w.str(`{"id":`, g.ID)
	w.strOmit(`,"name":`, g.Name)
	w.strOmit(`,"type":`, g.Type)
	w.strOmit(`,"image":`, g.Image)
	arrayOmit(&w, `,"nics":`, g.Nics, (*writer).nic)
	arrayOmit(&w, `,"disks":`, g.Disks, (*writer).disk)
	w.strOmit(`,"state":`, g.State)
	w.uintOmit(`,"memory":`, uint64(g.Memory))
	w.uintOmit(`,"cpu":`, uint64(g.CPU))
	if g.VNC != 0 {
		w.b = append(w.b, `,"vnc":`...)
		w.b = strconv.AppendInt(w.b, int64(g.VNC), 10)
	}
	if len(g.Metadata) > 0 {
		w.metadata(g.Metadata)
	}
	if g.Boot != nil {
		w.b = append(w.b, `,"boot":{`...)
		n := len(w.b)
		w.strOmit(`,"kernel":`, g.Boot.Kernel)
		w.strOmit(`,"initrd":`, g.Boot.Initrd)
		w.strOmit(`,"cmdline":`, g.Boot.Cmdline)
		if len(w.b) > n { // the first key's comma goes
			w.b = append(w.b[:n], w.b[n+1:]...)
		}
		w.b = append(w.b, '}')
	}
	if g.Autostart {
		w.b = append(w.b, `,"autostart":true`...)
	}
	return append(w.b, '}')
}

// nic writes one Nic object.
func (w *writer) nic(n *hvagent.Nic) {
	if n.Name != "" {
		w.str(`{"name":`, n.Name)
		w.str(`,"network":`, n.Network)
	} else {
		w.str(`{"network":`, n.Network)
	}
	w.str(`,"model":`, n.Model)
	w.strOmit(`,"mac":`, n.MAC)
	w.str(`,"address":`, n.Address)
	w.str(`,"netmask":`, n.Netmask)
	w.str(`,"gateway":`, n.Gateway)
	w.strOmit(`,"device":`, n.Device)
	if n.VLANs == nil {
		w.b = append(w.b, `,"vlans":null}`...)
		return
	}
	w.b = append(w.b, `,"vlans":[`...)
	for i, v := range n.VLANs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	}
	w.b = append(w.b, "]}"...)
}

// disk writes one Disk object.
func (w *writer) disk(d *hvagent.Disk) {
	w.str(`{"bus":`, d.Bus)
	w.str(`,"device":`, d.Device)
	w.b = append(w.b, `,"size":`...)
	w.b = strconv.AppendUint(w.b, d.Size, 10)
	w.str(`,"volume":`, d.Volume)
	w.str(`,"image":`, d.Image)
	w.str(`,"source":`, d.Source)
	w.b = append(w.b, '}')
}

// metadata writes the metadata object with its keys sorted, as
// json.Marshal writes a map.
func (w *writer) metadata(md map[string]string) {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.b = append(w.b, `,"metadata":{`...)
	for i, k := range keys {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, k)
		w.b = append(w.b, ':')
		w.b = appendJSONString(w.b, md[k])
	}
	w.b = append(w.b, '}')
}

// arrayOmit writes key and the array of items, each by item, unless there
// are none (omitempty).
func arrayOmit[T any](w *writer, key string, items []T, item func(*writer, *T)) {
	if len(items) == 0 {
		return
	}
	w.b = append(w.b, key...)
	w.b = append(w.b, '[')
	for i := range items {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		item(w, &items[i])
	}
	w.b = append(w.b, ']')
}
