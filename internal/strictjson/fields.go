package strictjson

import (
	"reflect"
	"strings"
)

// field is a candidate for one JSON key at one depth of embedding.
type field struct {
	typ    reflect.Type
	tagged bool
}

// fields returns struct t's JSON keys and their types, with encoding/json's
// rules: fields of embedded structs without a JSON name are promoted; of
// the fields that share a key, the least deeply embedded wins, a tagged one
// winning a tie; a tie left undecided hides the key.
func fields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	hidden := map[string]bool{}
	visited := map[reflect.Type]bool{}
	for current := []reflect.Type{t}; len(current) > 0; {
		var next []reflect.Type
		level := map[string][]field{}
		for _, st := range current {
			if visited[st] {
				continue
			}
			visited[st] = true
			next = append(next, levelFields(st, level)...)
		}
		for name, fs := range level {
			if _, done := out[name]; done || hidden[name] {
				continue
			}
			if typ, ok := dominant(fs); ok {
				out[name] = typ
			} else {
				hidden[name] = true
			}
		}
		current = next
	}
	return out
}

// levelFields adds struct st's own JSON fields to level and returns the
// embedded structs whose fields are promoted.
func levelFields(st reflect.Type, level map[string][]field) []reflect.Type {
	var embedded []reflect.Type
	for f := range st.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Name() == "" && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous {
			if !f.IsExported() && ft.Kind() != reflect.Struct {
				continue
			}
			if name == "" && ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		} else if !f.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = f.Name
		}
		level[name] = append(level[name], field{typ: f.Type, tagged: tagged})
	}
	return embedded
}

// dominant picks the field of fs (same key, same depth) that encoding/json
// uses: the only one, or the only tagged one.
func dominant(fs []field) (reflect.Type, bool) {
	if len(fs) == 1 {
		return fs[0].typ, true
	}
	var pick reflect.Type
	for _, f := range fs {
		if f.tagged {
			if pick != nil {
				return nil, false
			}
			pick = f.typ
		}
	}
	return pick, pick != nil
}
