// Package strictjson decodes JSON documents strictly against a Go type:
// unknown keys, duplicate keys and values of the wrong type are errors
// naming the key and where it is, in document order, and invalid JSON is
// reported with its line and column. It serves config files, whose readers
// deserve every mistake at once rather than the first.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// maxDescribed is how many runes of a string or number an error quotes.
const maxDescribed = 40

// A Checker is a type with its own JSON text form, such as a duration
// string. Decode calls CheckJSON with each of its values (one JSON value,
// never null) and reports the error it returns after the value's path:
// "timeout: <message>". Types that are not Checkers but implement
// json.Unmarshaler are checked by calling UnmarshalJSON on a new value.
type Checker interface {
	CheckJSON(data []byte) error
}

// SchemaError lists the problems of a document that is valid JSON but does
// not fit the type it is decoded into.
type SchemaError struct {
	// Where names the document; it prefixes the message.
	Where string
	// Problems are the messages, in document order.
	Problems []string
}

// Error returns "<where>: <problem>; <problem>…".
func (e *SchemaError) Error() string {
	return e.Where + ": " + strings.Join(e.Problems, "; ")
}

// Decode checks data against the type v points to, then decodes it into v
// with encoding/json. Every error message starts with where and ": ".
// Invalid JSON is "invalid JSON at line L, column C: …" and wraps the
// *json.SyntaxError; a document that does not fit v's type is a
// *SchemaError. Struct keys match exactly (no case folding, unlike
// encoding/json); embedded structs are flattened as encoding/json does;
// null is accepted everywhere and leaves the Go value unset.
func Decode(data []byte, v any, where string) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%s: decode into %T: need a non-nil pointer", where, v)
	}
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineColumn(data, syn)
			return fmt.Errorf("%s: invalid JSON at line %d, column %d: %w", where, line, col, err)
		}
		return fmt.Errorf("%s: invalid JSON: %w", where, err)
	}
	problems, err := check(data, rv.Type().Elem())
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if len(problems) > 0 {
		return &SchemaError{Where: where, Problems: problems}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// lineColumn returns the 1-based line and column of the byte that syn's
// Offset (bytes read, including the offending one) points at, or of the end
// of data for an unexpected end of input.
func lineColumn(data []byte, syn *json.SyntaxError) (line, col int) {
	pos := int(syn.Offset) - 1
	// encoding/json reports a truncated document only by this message.
	if syn.Error() == "unexpected end of JSON input" || pos < 0 || pos > len(data) {
		pos = len(data)
	}
	before := data[:pos]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = pos - bytes.LastIndexByte(before, '\n')
	return line, col
}

// Describe names one JSON value for an error message: `string "abc"`, a
// number as written, true, false, null, "an object" or "an array". Long
// strings and numbers are cut to 40 characters and "…". Checkers use it to
// say what they got.
func Describe(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return "invalid JSON"
	}
	return describeToken(tok)
}
