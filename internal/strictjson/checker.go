package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// checker walks a syntactically valid JSON document token by token against
// a Go type and records unknown keys, duplicate keys and type mismatches,
// in document order.
type checker struct {
	dec      *json.Decoder
	problems []string
}

var (
	checkerType     = reflect.TypeFor[Checker]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// check returns data's problems against t; the error is for a document
// that cannot be read at all.
func check(data []byte, t reflect.Type) ([]string, error) {
	c := &checker{dec: json.NewDecoder(bytes.NewReader(data))}
	c.dec.UseNumber()
	if err := c.value(t, ""); err != nil {
		return nil, err
	}
	return c.problems, nil
}

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// value reads one value and checks it against t.
func (c *checker) value(t reflect.Type, path string) error {
	if hook := textHook(t); hook != nil {
		var raw json.RawMessage
		if err := c.dec.Decode(&raw); err != nil {
			return err
		}
		if string(raw) != "null" {
			if err := hook(raw); err != nil {
				c.addf("%s: %v", pathOrTop(path), err)
			}
		}
		return nil
	}
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	if path == "" {
		return c.top(tok, t)
	}
	return c.check(tok, t, path)
}

// top checks the document's top-level value, which must be an object when
// t is a struct or map.
func (c *checker) top(tok json.Token, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
		return c.check(tok, t, "value")
	}
	if tok != json.Delim('{') {
		c.addf("expected a JSON object at top level, got %s", describeToken(tok))
		return c.skip(tok)
	}
	return c.object("", t)
}

// textHook returns the check of a type with its own JSON text form (a
// Checker or a json.Unmarshaler, through pointers), or nil.
func textHook(t reflect.Type) func([]byte) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := reflect.PointerTo(t)
	switch {
	case p.Implements(checkerType):
		return func(b []byte) error { return reflect.New(t).Interface().(Checker).CheckJSON(b) }
	case p.Implements(unmarshalerType):
		return func(b []byte) error { return reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b) }
	}
	return nil
}

// check checks the value starting with tok against t. null is accepted
// everywhere and leaves the Go value unset, as encoding/json does.
func (c *checker) check(tok json.Token, t reflect.Type, path string) error {
	if tok == nil {
		return nil
	}
	var want string
	switch t.Kind() {
	case reflect.Pointer:
		return c.check(tok, t.Elem(), path)
	case reflect.Struct, reflect.Map:
		if tok == json.Delim('{') {
			return c.object(path, t)
		}
		want = "an object"
	case reflect.Slice, reflect.Array:
		if tok == json.Delim('[') {
			return c.array(path, t.Elem())
		}
		want = "an array"
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return c.skip(tok)
		}
		want = "no value (unsupported field type " + t.String() + ")"
	default:
		if want = scalarWant(tok, t); want == "" {
			return nil
		}
	}
	c.addf("%s: expected %s, got %s", path, want, describeToken(tok))
	return c.skip(tok)
}

// scalarWant returns "" when tok fits scalar type t, else what t wants.
func scalarWant(tok json.Token, t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		if _, ok := tok.(string); ok {
			return ""
		}
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err == nil {
				return ""
			}
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err == nil {
				return ""
			}
		}
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(n), t.Bits()); err == nil {
				return ""
			}
		}
		return "a number"
	case reflect.Bool:
		if _, ok := tok.(bool); ok {
			return ""
		}
		return "true or false"
	}
	return "no value (unsupported field type " + t.String() + ")"
}

// object checks the members of an object whose '{' has been read, against
// struct t (keys are its exact JSON names) or map t.
func (c *checker) object(path string, t reflect.Type) error {
	seen := map[string]bool{}
	var members map[string]reflect.Type
	if t.Kind() == reflect.Struct {
		members = fields(t)
	}
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			c.addf("duplicate key %q %s", key, describePath(path))
		}
		seen[key] = true
		elem, ok := memberType(t, members, key)
		if !ok {
			c.addf("unknown key %q %s", key, describePath(path))
			if err := c.skipValue(); err != nil {
				return err
			}
			continue
		}
		if err := c.value(elem, joinPath(path, key)); err != nil {
			return err
		}
	}
	_, err := c.dec.Token() // '}'
	return err
}

// memberType returns the type of key's value in map t, or in the struct
// whose members are given, and false for a key the struct does not have.
func memberType(t reflect.Type, members map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t.Kind() == reflect.Map {
		return t.Elem(), true
	}
	elem, ok := members[key]
	return elem, ok
}

// array checks the elements of an array whose '[' has been read.
func (c *checker) array(path string, elem reflect.Type) error {
	for i := 0; c.dec.More(); i++ {
		if err := c.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, err := c.dec.Token() // ']'
	return err
}

// skipValue reads and ignores one value.
func (c *checker) skipValue() error {
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	return c.skip(tok)
}

// skip ignores the rest of the value that starts with tok.
func (c *checker) skip(tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = c.dec.Token(); err != nil {
			return err
		}
	}
}

// joinPath appends key to a dotted path, quoting keys that are not plain
// identifiers: services.libvirt, services["my svc"].
func joinPath(path, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	}) < 0
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// describePath says where a key is: "at top level" or "in services.x".
func describePath(path string) string {
	if path == "" {
		return "at top level"
	}
	return "in " + path
}

// pathOrTop is path, or "value" for the document itself.
func pathOrTop(path string) string {
	if path == "" {
		return "value"
	}
	return path
}

// describeToken names a JSON token for an error message.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "string " + strconv.Quote(truncate(v))
	case json.Number:
		return truncate(string(v))
	case bool:
		return strconv.FormatBool(v)
	}
	return "null"
}

func truncate(s string) string {
	if r := []rune(s); len(r) > maxDescribed {
		return string(r[:maxDescribed]) + "…"
	}
	return s
}
