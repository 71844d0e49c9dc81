package jsonform

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReader_Str: a string reads as json.Unmarshal reads it, cut from the
// text when it is the text as it is, and a malformed one fails.
func TestReader_Str(t *testing.T) {
	t.Parallel()
	for _, text := range []string{`""`, `"abc"`, `"déjà ✓"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"\u2028"`,
		`"<&>"`, "\"bad \xff byte\"", "\"tab\there\""} {
		r := NewReader(text + ",")
		got := r.Str()
		var want string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			require.True(t, r.Failed(), "%s: json.Unmarshal refuses it", text)
			continue
		}
		require.False(t, r.Failed(), text)
		require.Equal(t, want, got, text)
		require.Equal(t, ",", r.Rest(), "%s: the string and nothing more is consumed", text)
	}
	for _, text := range []string{``, `abc`, `"abc`, `"abc\"`, `null`} {
		r := NewReader(text)
		require.Empty(t, r.Str(), text)
		require.True(t, r.Failed(), text)
	}
}

// TestReader_Numbers: integers read as json.Unmarshal reads them into an
// int or a uint; any other number form, or one out of range, fails.
func TestReader_Numbers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		int  int
		ok   bool
	}{{"0", 0, true}, {"42", 42, true}, {"-7", -7, true}, {"01", 0, false}, {"-", 0, false}, {"1.5", 0, false},
		{"1e3", 0, false}, {"99999999999999999999", 0, false}, {`"1"`, 0, false}} {
		r := NewReader(tc.text)
		require.Equal(t, tc.int, r.Int(), tc.text)
		require.Equal(t, tc.ok, r.Done(), tc.text)
	}
	r := NewReader("255,256,-1")
	require.Equal(t, uint64(255), r.Uint(8))
	require.True(t, r.Need(","))
	require.Zero(t, r.Uint(8), "out of range")
	require.True(t, r.Failed())
	r = NewReader("-1")
	require.Zero(t, r.Uint(64), "a minus sign")
	require.True(t, r.Failed())
}

// TestReader_KeysAndTime: keys are matched in order, a missing optional
// key is no failure, a missing needed one is; a time reads as
// time.Time's UnmarshalJSON reads it.
func TestReader_KeysAndTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 9, 4, 6, 123456789, time.FixedZone("x", 3600))
	text, err := json.Marshal(struct{ A time.Time }{at})
	require.NoError(t, err)
	r := NewReader(string(text))
	require.False(t, r.Key(`{"B":`))
	require.True(t, r.Need(`{"A":`))
	require.True(t, at.Equal(r.Time()))
	require.True(t, r.Byte('}'))
	require.True(t, r.Done())

	r = NewReader(`{"A":"yesterday"}`)
	require.True(t, r.Need(`{"A":`))
	require.True(t, r.Time().IsZero())
	require.True(t, r.Failed(), "not a time")
	r = NewReader(`{"A":1}`)
	require.False(t, r.Need(`{"B":`))
	require.True(t, r.Failed())
	require.False(t, r.Key(`{"A":`), "nothing reads after a failure")
}
