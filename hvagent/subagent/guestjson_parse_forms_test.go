package subagent_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/benchkit"
)

// storedForm is a guest as the store's data column holds it: json.Marshal
// of the guest without its name and metadata (they have columns of their
// own).
func storedForm(t testing.TB, g *hvagent.Guest) string {
	t.Helper()
	c := *g
	c.Name, c.Metadata = "", nil
	data, err := json.Marshal(&c)
	require.NoError(t, err)
	return string(data)
}

func TestParseGuest_Forms(t *testing.T) {
	t.Parallel()
	full := hvagent.Guest{ID: "0b0e7c1c-4a38-4c1e-9d53-5a4f7d1e2b3c", Type: "qemu", Image: "debian-12",
		Nics: []hvagent.Nic{
			{Name: "eth0", Network: "br0", Model: "virtio", MAC: "52:54:00:12:34:56", Address: "10.0.0.2",
				Netmask: "255.255.255.0", Gateway: "10.0.0.1", Device: "tap0", VLANs: []int{1, -2, math.MaxInt64}},
			{Network: "br1", VLANs: []int{}},
			{},
		},
		Disks: []hvagent.Disk{{Bus: "virtio", Device: "vda", Size: math.MaxUint64, Volume: "v", Image: "i", Source: "s"}, {}},
		State: "running", Memory: math.MaxUint, CPU: 2, VNC: -5900,
		Boot: &hvagent.Boot{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0"}, Autostart: true}
	with := func(f func(g *hvagent.Guest)) *hvagent.Guest {
		g := full
		f(&g)
		return &g
	}
	for _, tc := range []struct {
		name   string
		guest  *hvagent.Guest
		parsed bool
	}{
		{"minimal", &hvagent.Guest{ID: "g"}, true},
		{"named", with(func(g *hvagent.Guest) { g.Name = "web1" }), true},
		{"empty id", &hvagent.Guest{}, true},
		{"full", &full, true},
		{"empty boot", with(func(g *hvagent.Guest) { g.Boot = &hvagent.Boot{} }), true},
		{"boot cmdline only", with(func(g *hvagent.Guest) { g.Boot = &hvagent.Boot{Cmdline: "x"} }), true},
		{"boot initrd only", with(func(g *hvagent.Guest) { g.Boot = &hvagent.Boot{Initrd: "x"} }), true},
		{"nil boot", with(func(g *hvagent.Guest) { g.Boot = nil }), true},
		{"empty slices", with(func(g *hvagent.Guest) { g.Nics, g.Disks = []hvagent.Nic{}, []hvagent.Disk{} }), true},
		{"unicode", with(func(g *hvagent.Guest) { g.State, g.Image = "déjà vu — ✓", "日本語 🚀" }), true},
		{"escapes", with(func(g *hvagent.Guest) { g.Type = "a\"b\\c\nd\te\rf\bg\fh\x00i\x1fj" }), true},
		{"html", with(func(g *hvagent.Guest) { g.Nics[0].Address = "<a href='x'>&</a>" }), true},
		{"invalid utf-8", with(func(g *hvagent.Guest) { g.Disks[0].Source = "bad \xff byte \xc3" }), true},
		{"line separators", with(func(g *hvagent.Guest) { g.Boot = &hvagent.Boot{Cmdline: "a\u2028b\u2029c"} }), true},
		{"min int", with(func(g *hvagent.Guest) { g.VNC = math.MinInt64 }), true},
		{"metadata", with(func(g *hvagent.Guest) { g.Metadata = map[string]string{"a": "b"} }), true},
	} {
		data, err := json.Marshal(tc.guest) // metadata and name included, unlike the stored form
		require.NoError(t, err)
		require.Equal(t, tc.parsed, checkParseGuest(t, string(data)), "%s: %s", tc.name, data)
		require.Equal(t, tc.parsed, checkParseGuest(t, storedForm(t, tc.guest)), "%s (stored form)", tc.name)
	}
}

// TestParseGuest_DeclinesSyntax: ParseGuest leaves every other form to
// encoding/json, and never takes what it refuses.
func TestParseGuest_DeclinesSyntax(t *testing.T) {
	t.Parallel()
	base := `{"id":"g","nics":[{"network":"n","model":"m","address":"","netmask":"","gateway":"","vlans":[1]}],` +
		`"disks":[{"bus":"b","device":"d","size":1,"volume":"","image":"","source":""}],"memory":1,"vnc":-1,` +
		`"boot":{"kernel":"k"},"autostart":true}`
	require.True(t, checkParseGuest(t, base), "the canonical form")
	for _, tc := range [][2]string{
		{`"id"`, `"ID"`},                   // a key in another case
		{`"id":"g"`, `"id": "g"`},          // whitespace
		{`{"id":"g",`, `{"id":"g","x":1,`}, // an unknown key
		{`"memory":1,"vnc":-1`, `"vnc":-1,"memory":1`},
		{`"autostart":true}`, `"autostart":true}x`},
		{`"autostart":true}`, `"autostart":true`},
		{`"autostart":true`, `"autostart":1`},
		{`"autostart":true`, `"autostart":null`},
		{`"id":"g"`, `"id":null`},
		{`"id":"g"`, `"id":"g\"`},
		{`"id":"g"`, `"id":"g\q"`},
		{`"id":"g"`, "\"id\":\"g\x01\""},
		{`"vlans":[1]`, `"vlans":[1,]`},
		{`"vlans":[1]`, `"vlans":[1.0]`},
		{`"vlans":[1]`, `"vlans":[1e2]`},
		{`"vlans":[1]`, `"vlans":[01]`},
		{`"vlans":[1]`, `"vlans":[-]`},
		{`"vlans":[1]`, `"vlans":[99999999999999999999]`},
		{`"vlans":[1]`, `"vlans":"1"`},
		{`,"vlans":[1]`, ``},
		{`"memory":1`, `"memory":-1`},
		{`"memory":1`, `"memory":-0`},
		{`"size":1`, `"size":18446744073709551616`},
		{`"nics":[`, `"nics":null,"x":[`},
		{`"boot":{"kernel":"k"}`, `"boot":null`},
		{`"boot":{"kernel":"k"}`, `"boot":{"kernel":"k",}`},
		{`"boot":{"kernel":"k"}`, `"boot":{"cmdline":"c","kernel":"k"}`},
	} {
		data := strings.Replace(base, tc[0], tc[1], 1)
		require.NotEqual(t, base, data)
		require.False(t, checkParseGuest(t, data), data)
	}
	for _, data := range []string{``, `null`, `{}`, `{"id":"g"`, `[]`, `"x"`} {
		require.False(t, checkParseGuest(t, data), data)
	}
}

// FuzzParseGuest_Fields checks ParseGuest against json.Unmarshal on the
// stored form of guests made of the fuzzer's strings and numbers: it
// takes every one.
func FuzzParseGuest_Fields(f *testing.F) {
	f.Add("g", "running", "a\"b\xff", uint64(512), int64(-1), true)
	f.Add("", "", "", uint64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, id, state, text string, n uint64, i int64, boot bool) {
		g := &hvagent.Guest{ID: id, State: state, Image: text, Memory: uint(n), VNC: int(i),
			Nics:  []hvagent.Nic{{Name: text, Network: state, VLANs: []int{int(i), int(n)}}},
			Disks: []hvagent.Disk{{Bus: text, Size: n}}}
		if boot {
			g.Boot = &hvagent.Boot{Cmdline: text}
		}
		require.True(t, checkParseGuest(t, storedForm(t, g)))
	})
}

// BenchmarkParseGuest measures decoding a typical stored guest (two
// NICs, two disks, a boot) with ParseGuest, side by side with its
// reference json.Unmarshal in the same round. Reported: direct-ns,
// unmarshal-ns and ratio (unmarshal time / direct time).
func BenchmarkParseGuest(b *testing.B) {
	data := storedForm(b, typicalGuest())
	benchkit.SideBySide(b, "unmarshal", func() error {
		var d hvagent.Guest
		if !subagent.ParseGuest(data, &d) {
			return errors.New("ParseGuest declined the stored form")
		}
		return nil
	}, func() error {
		var u hvagent.Guest
		return json.Unmarshal([]byte(data), &u)
	})
}
