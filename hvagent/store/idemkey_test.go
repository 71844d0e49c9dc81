package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDB_KeyJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const guest = "5d0c6a1e-2b3f-4c5d-8e9f-0a1b2c3d4e5f"
	j := b.enqueue(t, newJob(guest, &jobOpts{Key: ptr("k1")}))
	scope := "tester POST /guests/" + guest + "/start"

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		got, hash, err := b.db.KeyJob(ctx, scope, "k1", t0)
		require.NoError(t, err)
		require.Equal(t, j.ID, got.ID)
		require.Equal(t, "hash-1", hash)
	})

	t.Run("UnknownKey", func(t *testing.T) {
		t.Parallel()
		got, hash, err := b.db.KeyJob(ctx, scope, "k2", t0)
		require.NoError(t, err)
		require.Nil(t, got)
		require.Empty(t, hash)
	})

	t.Run("OtherScope", func(t *testing.T) {
		t.Parallel()
		got, _, err := b.db.KeyJob(ctx, "tester POST /guests/"+guest+"/shutdown", "k1", t0)
		require.NoError(t, err)
		require.Nil(t, got)
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		got, _, err := b.db.KeyJob(ctx, scope, "k1", t0.Add(24*time.Hour))
		require.NoError(t, err)
		require.Nil(t, got, "the key expires 24 h after t0")
	})
}
