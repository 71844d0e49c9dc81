package qemu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProbeAccel(t *testing.T) {
	t.Parallel()
	t.Run("TCG", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, probeAccel(ctx(t), DefaultBinary, "tcg"), "the probe firmware runs under TCG")
	})
	t.Run("ErrUnusable", func(t *testing.T) {
		t.Parallel()
		// A "QEMU" that runs nothing never shows the probe's marker.
		_, err := New(ctx(t), Options{DataDir: t.TempDir(), Accel: "kvm", Binary: "true"})
		require.ErrorContains(t, err, "kvm is configured but unusable")
		require.ErrorContains(t, err, "the probe guest did not run")
	})
	t.Run("ErrAccel", func(t *testing.T) {
		t.Parallel()
		_, err := New(ctx(t), Options{DataDir: t.TempDir(), Accel: "hvf"})
		require.EqualError(t, err, `qemu driver: accel "hvf": want tcg or kvm`)
	})
	t.Run("ErrDataDir", func(t *testing.T) {
		t.Parallel()
		_, err := New(ctx(t), Options{})
		require.EqualError(t, err, "qemu driver: Options.DataDir is required")
	})
}
