package logtext

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1234 * time.Nanosecond, "1µs"},
		{250*time.Millisecond + 1234*time.Nanosecond, "250.001ms"},
		{1500*time.Millisecond + 123*time.Microsecond, "1.5s"},
		{90 * time.Second, "1m30s"},
		{-2*time.Second - 400*time.Microsecond, "-2s"},
	} {
		require.Equal(t, tt.want, Duration(tt.d), "%d", tt.d)
	}
}
