package qemu

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// benchDriver returns a driver on a fresh data dir whose QEMUs are killed
// at cleanup.
func benchDriver(b *testing.B) *Driver {
	dir := b.TempDir()
	d, err := New(context.Background(), Options{DataDir: dir, Logger: zerolog.Nop()})
	require.NoError(b, err)
	b.Cleanup(func() {
		require.NoError(b, d.Close())
		killAll(nil, dir)
	})
	return d
}

// BenchmarkDriver_StartPoweroff measures a bare guest's QEMU launched,
// attached, resumed, then told to quit and seen gone.
func BenchmarkDriver_StartPoweroff(b *testing.B) {
	d := benchDriver(b)
	g := bareGuest()
	ctx := context.Background()
	for b.Loop() {
		_, err := d.Start(ctx, g)
		require.NoError(b, err)
		_, err = d.Poweroff(ctx, g)
		require.NoError(b, err)
	}
}

// BenchmarkDriver_CPUMetrics measures one metrics call: a QMP round trip
// and a /proc read per vCPU.
func BenchmarkDriver_CPUMetrics(b *testing.B) {
	d := benchDriver(b)
	g := bareGuest()
	ctx := context.Background()
	_, err := d.Start(ctx, g)
	require.NoError(b, err)
	for b.Loop() {
		_, err := d.CPUMetrics(ctx, g)
		require.NoError(b, err)
	}
	_, err = d.Poweroff(ctx, g)
	require.NoError(b, err)
}
