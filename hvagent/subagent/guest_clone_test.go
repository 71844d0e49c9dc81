package subagent

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGuest_Clone fills every field of a guest, at every depth, and checks
// that the clone is equal and shares no memory with it: a reference field
// added to the guest without a copy in Clone fails here.
func TestGuest_Clone(t *testing.T) {
	t.Parallel()
	var g Guest
	fillValue(reflect.ValueOf(&g).Elem())
	c := g.Clone()
	require.Equal(t, &g, c)
	requireNoSharing(t, "guest", reflect.ValueOf(g), reflect.ValueOf(*c))

	empty := &Guest{Nics: []Nic{{VLANs: []int{}}}, Disks: []Disk{}, Metadata: map[string]string{}}
	require.Equal(t, empty, empty.Clone(), "empty slices and maps must stay empty, not nil")
	require.Equal(t, &Guest{}, (&Guest{}).Clone(), "nil slices and maps must stay nil")
}

// fillValue sets v, and everything it reaches, to a non-zero value.
func fillValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillValue(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillValue(v.Index(0))
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillValue(k)
		fillValue(e)
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			fillValue(v.Field(i))
		}
	default:
		panic("fillValue: unhandled kind " + v.Kind().String())
	}
}

// requireNoSharing fails when a and b (equal values) share a pointer, a
// slice's array or a map, at any depth.
func requireNoSharing(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		require.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
		requireNoSharing(t, path, a.Elem(), b.Elem())
	case reflect.Slice:
		require.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
		for i := range a.Len() {
			requireNoSharing(t, path+"[]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		require.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
		for _, k := range a.MapKeys() {
			requireNoSharing(t, path+"[k]", a.MapIndex(k), b.MapIndex(k))
		}
	case reflect.Struct:
		for i := range a.NumField() {
			requireNoSharing(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
		}
	case reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		require.Failf(t, "unexpected kind", "%s is a %s", path, a.Kind())
	}
}
