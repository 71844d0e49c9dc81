package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/sim"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

func TestDriver_Images(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	images := func(method string, req *subagent.ImageRequest) []*subagent.Image {
		t.Helper()
		resp, err := call[subagent.ImageResponse](t, b, method, req)
		require.NoError(t, err)
		require.NotNil(t, resp.Images, "lists are never null")
		return resp.Images
	}

	require.Empty(t, images("Sim.ListImages", &subagent.ImageRequest{}))
	_, err := call[subagent.ImageResponse](t, b, "Sim.GetImage", &subagent.ImageRequest{ID: "img-b"})
	require.Equal(t, "not found", methodError(t, err))
	_, err = call[subagent.ImageResponse](t, b, "Sim.RequestImage", &subagent.ImageRequest{})
	require.Equal(t, "need id", methodError(t, err))

	imgB := &subagent.Image{ID: "img-b", Size: 1024, Status: "complete"}
	require.Equal(t, []*subagent.Image{imgB}, images("Sim.RequestImage", &subagent.ImageRequest{ID: "img-b", Source: "https://example.com/b"}))
	require.Equal(t, []*subagent.Image{imgB}, images("Sim.RequestImage", &subagent.ImageRequest{ID: "img-b"}), "fetching again is a no-op")
	images("Sim.RequestImage", &subagent.ImageRequest{ID: "img-a"})
	ctr := &subagent.Image{ID: "img-b", Type: "container", Size: 1024, Status: "complete"}
	require.Equal(t, []*subagent.Image{ctr}, images("Sim.RequestImage", &subagent.ImageRequest{ID: "img-b", Type: "container"}))

	list := images("Sim.ListImages", &subagent.ImageRequest{})
	require.Len(t, list, 2)
	require.Equal(t, "img-a", list[0].ID)
	require.Equal(t, imgB, list[1])
	require.Equal(t, []*subagent.Image{ctr}, images("Sim.ListImages", &subagent.ImageRequest{Type: "container"}))
	require.Equal(t, []*subagent.Image{imgB}, images("Sim.GetImage", &subagent.ImageRequest{ID: "img-b"}))

	require.Equal(t, []*subagent.Image{imgB}, images("Sim.DeleteImage", &subagent.ImageRequest{ID: "img-b"}))
	require.Empty(t, images("Sim.DeleteImage", &subagent.ImageRequest{ID: "img-b"}), "deleting again succeeds")
	_, err = call[subagent.ImageResponse](t, b, "Sim.GetImage", &subagent.ImageRequest{ID: "img-b"})
	require.Equal(t, "not found", methodError(t, err))
	require.Equal(t, []*subagent.Image{ctr}, images("Sim.GetImage", &subagent.ImageRequest{ID: "img-b", Type: "container"}))
}
