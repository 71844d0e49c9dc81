package settings

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// FuzzParse checks that Parse never panics, fails only with EINVALID, and
// that a file it accepts can be validated and defaulted without panicking
// and survives a Marshal → Parse round trip.
func FuzzParse(f *testing.F) {
	for _, path := range []string{mistifyFile, extensionsFile} {
		data, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"listen": "off", "shutdown_timeout": "1s", "services": {"a": {"timeout": "2s"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			require.Nil(t, file)
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
			return
		}
		if err := file.Validate(); err != nil {
			require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err))
		}
		_ = file.WithDefaults().Validate()
		_ = file.CheckExposure()

		out, err := json.Marshal(file)
		require.NoError(t, err)
		again, err := Parse(out)
		require.NoError(t, err, "re-parse %s", out)
		require.Equal(t, file, again)
	})
}
