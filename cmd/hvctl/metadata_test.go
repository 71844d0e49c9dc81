package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestMetadata_Flags(t *testing.T) {
	t.Parallel()
	host, guest := metadataScope{}, metadataScope{guest: true}
	b := setup(t)

	var get *MetadataGetOptions
	require.NoError(t, parse(newCmdMetadataGet(b.f, host, capture(&get)), "owner"))
	require.Equal(t, "owner", get.Key)
	require.NoError(t, parse(newCmdMetadataGet(b.f, guest, capture(&get)), guestID, "-o", "json"))
	require.Equal(t, guestID, get.GuestID)
	require.Empty(t, get.Key)
	requireUsage(t, parse(newCmdMetadataGet(b.f, guest, capture(&get))), "needs ID")
	requireUsage(t, parse(newCmdMetadataGet(b.f, host, capture(&get)), "a", "b"), "at most 1")

	var set *MetadataSetOptions
	require.NoError(t, parse(newCmdMetadataSet(b.f, guest, capture(&set)), guestID, "a=1", "b=x=y"))
	require.Equal(t, map[string]string{"a": "1", "b": "x=y"}, set.Pairs)
	requireUsage(t, parse(newCmdMetadataSet(b.f, host, capture(&set)), "a="), "use unset")
	requireUsage(t, parse(newCmdMetadataSet(b.f, host, capture(&set)), "=1"), "KEY=VALUE")
	requireUsage(t, parse(newCmdMetadataSet(b.f, host, capture(&set))), "needs KEY=VALUE")
	requireUsage(t, parse(newCmdMetadataSet(b.f, guest, capture(&set)), guestID), "needs KEY=VALUE")

	var unset *MetadataUnsetOptions
	require.NoError(t, parse(newCmdMetadataUnset(b.f, host, capture(&unset)), "a", "b"))
	require.Equal(t, []string{"a", "b"}, unset.Keys)
	requireUsage(t, parse(newCmdMetadataUnset(b.f, host, capture(&unset))), "needs KEY")
}

func TestMetadata_Run(t *testing.T) {
	t.Parallel()
	t.Run("HostGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.MetadataFunc = func(context.Context) (map[string]string, error) {
			return map[string]string{"zone": "b", "rack": "r1"}, nil
		}
		require.NoError(t, metadataGetRun(&MetadataGetOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		require.Regexp(t, `^KEY\s+VALUE\nrack\s+r1\nzone\s+b\n$`, b.out.String())
	})
	t.Run("GuestGetKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.GuestMetadataFunc = func(_ context.Context, id string) (map[string]string, error) {
			require.Equal(t, guestID, id)
			return map[string]string{"owner": "ops"}, nil
		}
		opts := &MetadataGetOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, scope: metadataScope{guest: true}, GuestID: guestID, Key: "owner"}
		require.NoError(t, metadataGetRun(opts))
		require.Equal(t, "ops\n", b.out.String())
		opts.Key = "missing"
		err := metadataGetRun(opts)
		require.Equal(t, exitNotFound, exitCode(err))
		require.EqualError(t, err, `metadata key "missing" is not set`)
	})
	t.Run("GuestSetJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.PatchGuestMetadataFunc = func(_ context.Context, id string, p map[string]string) (map[string]string, error) {
			require.Equal(t, guestID, id)
			require.Equal(t, map[string]string{"a": "1"}, p)
			return map[string]string{"a": "1", "b": "2"}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "guest", "metadata", "set", guestID, "a=1", "-o", "json"))
		require.JSONEq(t, `{"a":"1","b":"2"}`, b.out.String())
	})
	t.Run("HostUnset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.PatchMetadataFunc = func(_ context.Context, p map[string]string) (map[string]string, error) {
			require.Equal(t, map[string]string{"a": "", "b": ""}, p)
			return map[string]string{"c": "3"}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "metadata", "unset", "a", "b", "-q"))
		require.Equal(t, "c\n", b.out.String())
	})
	t.Run("EmptyIsObject", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.Equal(t, exitOK, b.run(t.Context(), "metadata", "get", "-o", "json"))
		require.Equal(t, "{}\n", b.out.String())
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.GuestMetadataFunc = func(context.Context, string) (map[string]string, error) {
			return nil, hvagent.Errorf(hvagent.EINVALID, `guest id "x" must be a UUID`)
		}
		require.Equal(t, exitUsage, b.run(t.Context(), "guest", "metadata", "get", guestID))
		require.Equal(t, "hvctl: guest id \"x\" must be a UUID\n", b.errOut.String(), "no usage hint for the agent's errors")
	})
}
