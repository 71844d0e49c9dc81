package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	require.JSONEq(t, `{"Action":"reboot","Status":"Complete","Stage":"1/1 Sim.Reboot","Attempt":1}`, out.String())
}
