package rest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want string }{
		{"state=shutoff&limit=10", "state=shutoff&limit=10"}, // as sent: nothing to hide
		{"token=hva_s3cret", "token=REDACTED"},               // the value goes
		{"wait=1s&access_token=a&Api-Key=b", "Api-Key=REDACTED&access_token=REDACTED&wait=1s"},
		{"x=1&password=p%20w&x=2", "password=REDACTED&x=1&x=2"},
		{"auth=%zz&token=t", "token=REDACTED"},             // a pair that does not parse is dropped
		{"to%6Ben=hva_s3cret&n=%41", "n=A&token=REDACTED"}, // names are read decoded
	} {
		got := redactQuery(tc.raw)
		require.Equal(t, tc.want, got, tc.raw)
		require.NotContains(t, got, "s3cret")
	}
}
