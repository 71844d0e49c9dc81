package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestDB_Metadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("EmptyNotNil", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		m, err := b.db.Metadata(ctx)
		require.NoError(t, err)
		require.NotNil(t, m)
		require.Empty(t, m)
	})

	t.Run("Patch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		m, err := b.db.PatchMetadata(ctx, map[string]string{"a": "1", "b": "2"}, hvagent.MetadataLimits{})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"a": "1", "b": "2"}, m)

		m, err = b.db.PatchMetadata(ctx, map[string]string{"a": "", "b": "3", "c": "4", "zz": ""}, hvagent.MetadataLimits{})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"b": "3", "c": "4"}, m)

		got, err := b.db.Metadata(ctx)
		require.NoError(t, err)
		require.Equal(t, m, got)

		m, err = b.db.PatchMetadata(ctx, nil, hvagent.MetadataLimits{})
		require.NoError(t, err)
		require.Equal(t, got, m)
	})

	t.Run("ErrEmptyKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.db.PatchMetadata(ctx, map[string]string{"": "1", "a": "2"}, hvagent.MetadataLimits{})
		requireCode(t, err, hvagent.EINVALID)
		m, err := b.db.Metadata(ctx)
		require.NoError(t, err)
		require.Empty(t, m)
	})
}
