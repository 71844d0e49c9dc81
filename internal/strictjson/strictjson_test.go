package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// seconds has its own JSON form and checks it.
type seconds int

func (s *seconds) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 0 {
		return errors.New("bad seconds")
	}
	*s = seconds(n)
	return nil
}

func (s seconds) CheckJSON(b []byte) error {
	var n int
	if json.Unmarshal(b, &n) != nil || n < 0 {
		return fmt.Errorf("expected whole seconds, got %s", Describe(b))
	}
	return nil
}

// stamp is a json.Unmarshaler without CheckJSON.
type stamp struct{ time.Time }

type inner struct {
	Port  uint     `json:"port"`
	Wait  seconds  `json:"wait,omitempty"`
	Stamp *stamp   `json:"stamp,omitempty"`
	Tags  []string `json:"tags"`
}

type Base struct {
	Name   string `json:"name"`
	Shared string `json:"shared"`
	//lint:ignore U1000 an unexported field is no JSON key: the test checks that
	hidden string
}

type Extra struct {
	Level  string `json:"level"`
	Shared string `json:"shared"` // ties with Base.shared at depth 1: hidden
}

type Deeper struct{ Base }

type doc struct {
	Base
	*Extra
	Deeper `json:"deeper"`
	Inner  map[string]inner `json:"inner"`
	Name   string           `json:"label"` // renames, does not hide Base's "name"
	Code   func()           `json:"-"`
	Any    any              `json:"any"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	var d doc
	err := Decode([]byte(`{"name": "n", "level": "l", "label": "x", "deeper": {"name": "d"},
		"inner": {"a": {"port": 1, "wait": 5, "stamp": "2026-01-02T03:04:05Z", "tags": ["t"]}}, "any": {"x": [1]}}`), &d, "doc")
	require.NoError(t, err)
	require.Equal(t, "n", d.Base.Name)
	require.Equal(t, "l", d.Extra.Level)
	require.Equal(t, "d", d.Deeper.Name)
	require.Equal(t, "x", d.Name)
	require.Equal(t, seconds(5), d.Inner["a"].Wait)
	require.Equal(t, 2026, d.Inner["a"].Stamp.Year())
}

func TestDecode_Problems(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input, want string }{
		{"Unknown", `{"foo": 1}`, `doc: unknown key "foo" at top level`},
		{"AmbiguousEmbeddedKey", `{"shared": "x"}`, `doc: unknown key "shared" at top level`},
		{"CodeOnly", `{"Code": 1, "hidden": 2}`, `doc: unknown key "Code" at top level; unknown key "hidden" at top level`},
		{"EmbeddedNamedIsObject", `{"deeper": {"label": 1}}`, `doc: unknown key "label" in deeper`},
		{"CaseFolded", `{"Name": "x"}`, `doc: unknown key "Name" at top level`},
		{"Duplicate", `{"level": "a", "level": "b"}`, `doc: duplicate key "level" at top level`},
		{"Types", `{"inner": {"my x": {"port": -1, "tags": [1, "a", {}]}}}`,
			`doc: inner["my x"].port: expected a non-negative integer, got -1; inner["my x"].tags[0]: expected a string, got 1; ` +
				`inner["my x"].tags[2]: expected a string, got an object`},
		{"Checker", `{"inner": {"a": {"wait": "` + strings.Repeat("y", 45) + `"}}}`,
			`doc: inner.a.wait: expected whole seconds, got string "` + strings.Repeat("y", 40) + `…"`},
		{"CheckerObject", `{"inner": {"a": {"wait": {"s": 1}}}}`, `doc: inner.a.wait: expected whole seconds, got an object`},
		{"Unmarshaler", `{"inner": {"a": {"stamp": "yesterday"}}}`,
			`doc: inner.a.stamp: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{"TopLevel", `[1]`, `doc: expected a JSON object at top level, got an array`},
		{"Order", `{"zz": 1, "inner": {"a": {"port": "x"}}, "level": true}`,
			`doc: unknown key "zz" at top level; inner.a.port: expected a non-negative integer, got string "x"; level: expected a string, got true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Decode([]byte(tt.input), &doc{}, "doc")
			var se *SchemaError
			require.ErrorAs(t, err, &se)
			require.Equal(t, "doc", se.Where)
			require.Equal(t, tt.want, err.Error())
		})
	}
}

func TestDecode_Nulls(t *testing.T) {
	t.Parallel()
	d := doc{Inner: map[string]inner{"a": {Port: 1}}, Extra: &Extra{Level: "l"}}
	require.NoError(t, Decode([]byte(`{"level": null, "name": null}`), &d, "doc"))
	require.Equal(t, uint(1), d.Inner["a"].Port)
	require.Equal(t, "l", d.Level)
	require.NoError(t, Decode([]byte(`{"inner": {"a": {"wait": null, "stamp": null, "tags": null}}}`), &d, "doc"))
}

func TestDecode_InvalidJSON(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input, want string }{
		{"Empty", ``, `doc: invalid JSON at line 1, column 1: unexpected end of JSON input`},
		{"Truncated", "{\n  \"inner\": {\n", `doc: invalid JSON at line 3, column 1: unexpected end of JSON input`},
		{"BadValue", "{\n\t\"name\": x}", `doc: invalid JSON at line 2, column 10: invalid character 'x' looking for beginning of value`},
		{"TrailingData", "{}\n{}", `doc: invalid JSON at line 2, column 1: invalid character '{' after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Decode([]byte(tt.input), &doc{}, "doc")
			require.EqualError(t, err, tt.want)
			var syn *json.SyntaxError
			require.ErrorAs(t, err, &syn)
		})
	}
}

func TestDecode_Scalars(t *testing.T) {
	t.Parallel()
	var n int8
	require.EqualError(t, Decode([]byte(`300`), &n, "n"), `n: value: expected an integer, got 300`)
	require.NoError(t, Decode([]byte(`-3`), &n, "n"))
	require.Equal(t, int8(-3), n)
	var s seconds
	require.EqualError(t, Decode([]byte(`-1`), &s, "s"), `s: value: expected whole seconds, got -1`)
	var f float32
	require.EqualError(t, Decode([]byte(`1e100`), &f, "f"), `f: value: expected a number, got 1e100`)
	var ch chan int
	require.EqualError(t, Decode([]byte(`1`), &ch, "c"), `c: value: expected no value (unsupported field type chan int), got 1`)
	require.EqualError(t, Decode([]byte(`{}`), doc{}, "d"), `d: decode into strictjson.doc: need a non-nil pointer`)
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`"a"`: `string "a"`, `12.5`: `12.5`, `true`: `true`, `null`: `null`, `[1]`: `an array`, `{}`: `an object`, `x`: `invalid JSON`,
	} {
		require.Equal(t, want, Describe([]byte(in)), in)
	}
}
