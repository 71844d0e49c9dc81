package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestImage_Flags(t *testing.T) {
	t.Parallel()
	b := setup(t)

	var list *ImageListOptions
	require.NoError(t, parse(newCmdImageList(b.f, capture(&list)), "--type", "container"))
	require.Equal(t, "container", list.Type)
	requireUsage(t, parse(newCmdImageList(b.f, capture(&list)), "--type", "vm"), "--type")

	var show *ImageShowOptions
	require.NoError(t, parse(newCmdImageShow(b.f, capture(&show)), "debian-12", "-o", "json"))
	require.Equal(t, "debian-12", show.ID)
	requireUsage(t, parse(newCmdImageShow(b.f, capture(&show))), "needs ID")

	var fetch *ImageFetchOptions
	require.NoError(t, parse(newCmdImageFetch(b.f, capture(&fetch)), "debian-12", "--source", "https://example.org/d.qcow2",
		"--sha256", "ab", "--wait", "--timeout", "0"))
	require.Equal(t, "https://example.org/d.qcow2", fetch.Source)
	require.Equal(t, "ab", fetch.SHA256)
	require.True(t, fetch.Async.Wait)
	require.Zero(t, fetch.Async.Timeout)

	var del *ImageDeleteOptions
	require.NoError(t, parse(newCmdImageDelete(b.f, capture(&del)), "debian-12", "--type", "container"))
	require.Equal(t, "container", del.Type)
}

func TestImage_Run(t *testing.T) {
	t.Parallel()
	images := `[{"id":"debian-12","type":"","size":2048,"status":"complete"},{"id":"nginx","type":"container","size":0}]`
	t.Run("ListTable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(_ context.Context, action, _ string, req hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, hvagent.ActionListImages, action)
			require.Equal(t, &hvagent.ImageRequest{}, req.Image)
			return &hvagent.Result{Body: json.RawMessage(images)}, nil
		}
		require.NoError(t, imageListRun(&ImageListOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}}))
		require.Regexp(t, `(?m)^debian-12\s+disk\s+2048 MB\s+complete$`, b.out.String())
		require.Regexp(t, `(?m)^nginx\s+container\s+-\s+-$`, b.out.String())
	})
	t.Run("ListJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return &hvagent.Result{Body: json.RawMessage(images)}, nil
		}
		require.Equal(t, exitOK, b.run(t.Context(), "image", "list", "-o", "json"))
		require.JSONEq(t, images, b.out.String())
	})
	t.Run("Show", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(_ context.Context, action, _ string, req hvagent.Request) (*hvagent.Result, error) {
			require.Equal(t, hvagent.ActionGetImage, action)
			require.Equal(t, &hvagent.ImageRequest{ID: "debian-12"}, req.Image)
			return &hvagent.Result{Body: json.RawMessage(`{"id":"debian-12","type":"","size":2048}`)}, nil
		}
		require.NoError(t, imageShowRun(&ImageShowOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatTable}, ID: "debian-12"}))
		require.Regexp(t, `(?m)^Size:\s+2048 MB$`, b.out.String())
	})
	t.Run("FetchWait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var calls []doCall
		job := newJob(hvagent.ActionFetchImage, hvagent.JobQueued)
		job.GuestID = hvagent.AgentGuestID
		b.acceptJob(job, &calls)
		b.finishWith(job, hvagent.JobComplete, "")
		opts := &ImageFetchOptions{cmdBase: b.base(t), Out: outputOptions{Format: formatJSON}, ID: "debian-12", Source: "file:///img/d.qcow2",
			Async: asyncOptions{Wait: true, Timeout: defaultWaitTimeout}}
		require.NoError(t, imageFetchRun(opts))
		require.Equal(t, []doCall{{action: hvagent.ActionFetchImage, req: hvagent.Request{
			Image: &hvagent.ImageRequest{ID: "debian-12", Source: "file:///img/d.qcow2"}}}}, calls)
		var got hvagent.Job
		require.NoError(t, json.Unmarshal(b.out.Bytes(), &got))
		require.Equal(t, hvagent.JobComplete, got.Status)
	})
	t.Run("DeleteContainer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var calls []doCall
		b.acceptJob(newJob("containerDeleteImage", hvagent.JobQueued), &calls)
		require.Equal(t, exitOK, b.run(t.Context(), "image", "delete", "nginx", "--type", "container", "-q"))
		require.Equal(t, "containerDeleteImage", calls[0].action)
		require.Equal(t, jobID+"\n", b.out.String())
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.DoFunc = func(context.Context, string, string, hvagent.Request) (*hvagent.Result, error) {
			return nil, hvagent.Errorf(hvagent.ENOTFOUND, "image x not found")
		}
		require.Equal(t, exitNotFound, b.run(t.Context(), "image", "show", "x"))
	})
}
