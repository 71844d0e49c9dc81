package hvagent

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseConfig checks that ParseConfig never panics, fails only with
// EINVALID, and that a config it accepts can be validated, defaulted and
// resolved without panicking and survives a Marshal → ParseConfig round trip.
// Seeds: the config fixtures and testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	for _, path := range []string{mistifyConfig, testRPCServiceConfig, extensionsConfig} {
		data, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			require.Nil(t, cfg)
			require.Equal(t, EINVALID, ErrorCode(err))
			return
		}
		if err := cfg.Validate(); err != nil {
			require.Equal(t, EINVALID, ErrorCode(err))
		}
		defaulted := cfg.WithDefaults()
		_ = defaulted.Validate()
		for name := range defaulted.Services {
			_, _ = defaulted.ServiceURL(name)
		}

		out, err := json.Marshal(cfg)
		require.NoError(t, err)
		again, err := ParseConfig(out)
		require.NoError(t, err, "re-parse %s", out)
		require.Equal(t, cfg, again)
	})
}
