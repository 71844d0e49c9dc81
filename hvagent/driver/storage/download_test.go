package storage_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// downloadServer serves a driver's handler and streams its downloads as
// the agent does, through subagent.Client.Stream.
type downloadServer struct {
	srv    *httptest.Server
	client *subagent.Client
	dir    string
}

func newDownloadServer(t *testing.T, b *testBundle) *downloadServer {
	t.Helper()
	srv := httptest.NewServer(b.driver.Handler())
	t.Cleanup(srv.Close)
	return &downloadServer{
		srv:    srv,
		client: subagent.NewClient(subagent.ClientConfig{URL: srv.URL + storage.DownloadPath, HTTPClient: srv.Client()}),
		dir:    t.TempDir(),
	}
}

// stream opens the download of id and checks its announced size.
func (s *downloadServer) stream(t *testing.T, id string) (io.ReadCloser, int64) {
	t.Helper()
	body, size, err := s.client.Stream(testCtx(t), &subagent.SnapshotRequest{ID: id})
	require.NoError(t, err)
	require.Positive(t, size)
	return body, size
}

// download saves the download of a disk's snapshot and returns its path.
func (s *downloadServer) download(t *testing.T, id string) string {
	t.Helper()
	body, size := s.stream(t, id)
	defer body.Close()
	f, err := os.CreateTemp(s.dir, "*.qcow2")
	require.NoError(t, err)
	defer f.Close()
	n, err := io.Copy(f, body)
	require.NoError(t, err)
	require.Equal(t, size, n, "Content-Length is the length")
	return f.Name()
}

// downloadTar saves the files of a guest-level download, by name.
func (s *downloadServer) downloadTar(t *testing.T, id string) map[string]string {
	t.Helper()
	body, size := s.stream(t, id)
	defer body.Close()
	counted := &countingBody{r: body}
	tr := tar.NewReader(counted)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		p := filepath.Join(s.dir, strings.ReplaceAll(id, "/", "_")+"-"+hdr.Name)
		f, err := os.Create(p)
		require.NoError(t, err)
		_, err = io.Copy(f, tr)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		out[hdr.Name] = p
	}
	_, err := io.Copy(io.Discard, counted)
	require.NoError(t, err)
	require.Equal(t, size, counted.n, "Content-Length is the length")
	return out
}

type countingBody struct {
	r io.Reader
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestDriver_Download(t *testing.T) {
	t.Parallel()

	t.Run("DiskAndGuestLevel", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		b.snapshot(t, gid, "s1")
		writePattern(t, diskPath(b, 0), 0xbb, 0)
		writePattern(t, diskPath(b, 1), 0xbb, 0)
		srv := newDownloadServer(t, b)

		out := srv.download(t, disk0+"@s1")
		run(t, "qemu-img", "check", out)
		require.Contains(t, run(t, "qemu-img", "info", out), "file format: qcow2")
		require.NotContains(t, run(t, "qemu-img", "info", out), "backing file", "the export stands alone")
		require.True(t, hasPattern(t, out, "qcow2", 0xaa, 0), "the snapshot's content, not the current one")

		got := srv.downloadTar(t, gid+"@s1")
		require.Len(t, got, 2)
		for _, name := range []string{"disk0.qcow2", "disk1.qcow2"} {
			run(t, "qemu-img", "check", got[name])
			require.True(t, hasPattern(t, got[name], "qcow2", 0xaa, 0), name)
		}
		require.Empty(t, files(t, filepath.Join(b.dataDir, "tmp")), "the exports are removed")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := twoDisks(t)
		srv := newDownloadServer(t, b)
		for _, tc := range []struct {
			body   string
			status int
			text   string
		}{
			{`{"id":"` + gid + `@nope"}`, http.StatusNotFound, "snapshot " + gid + "@nope: not found"},
			{`{"id":"` + disk0 + `@nope"}`, http.StatusNotFound, "snapshot " + disk0 + "@nope: not found"},
			{`{"id":"` + gid + `/disk-2@nope"}`, http.StatusNotFound, "guest " + guestID + " has no disk 2: not found"},
			{`{"id":"` + disk0 + `"}`, http.StatusBadRequest, disk0 + " names no snapshot: want " + disk0 + "@<name>: invalid"},
			{`{"id":"` + gid + `"}`, http.StatusBadRequest, gid + " names no snapshot: want " + gid + "@<name>: invalid"},
			{`{"id":"guests/x/y"}`, http.StatusBadRequest, `snapshot id "guests/x/y": want guests/<guest>[/disk-<n>][@<name>]: invalid`},
			{`{"id":"guests/nope@x"}`, http.StatusNotFound, "guest nope has no disks: not found"},
			{`nope`, http.StatusBadRequest, "decode request: invalid character"},
		} {
			codes := map[int]string{http.StatusNotFound: subagent.CodeNotFound, http.StatusBadRequest: subagent.CodeInvalid}
			resp, err := srv.srv.Client().Post(srv.srv.URL+storage.DownloadPath, "application/json", strings.NewReader(tc.body))
			require.NoError(t, err)
			text, _ := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.status, resp.StatusCode, tc.body)
			require.Contains(t, string(text), tc.text)
			require.Equal(t, codes[tc.status], resp.Header.Get(subagent.HeaderErrorCode), tc.body)
		}
		require.Empty(t, files(t, filepath.Join(b.dataDir, "tmp")), "a failed export leaves no file")
	})

	t.Run("ClientGoneLeavesNoFile", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.createGuest(t, guestID, subagent.Disk{Size: 64})
		run(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 48M", diskPath(b, 0))
		b.snapshot(t, disk0, "big")
		srv := newDownloadServer(t, b)
		for _, id := range []string{disk0 + "@big", gid + "@big"} {
			if id == gid+"@big" {
				b.snapshot(t, gid, "big2")
				id = gid + "@big2"
			}
			ctx, cancel := context.WithCancel(context.Background())
			body, _, err := srv.client.Stream(ctx, &subagent.SnapshotRequest{ID: id})
			require.NoError(t, err)
			_, err = io.ReadFull(body, make([]byte, 1<<20))
			require.NoError(t, err)
			cancel()
			require.NoError(t, body.Close())
			require.Eventually(t, func() bool {
				return len(files(t, filepath.Join(b.dataDir, "tmp"))) == 0
			}, 10*time.Second, 10*time.Millisecond, "the export of %s is removed", id)
		}
	})
}

func TestDriver_Wire(t *testing.T) {
	t.Parallel()
	b := twoDisks(t)
	srv := httptest.NewServer(b.driver.Handler())
	t.Cleanup(srv.Close)
	c := subagent.NewClient(subagent.ClientConfig{URL: srv.URL + subagent.RPCPath, HTTPClient: srv.Client()})
	ctx := testCtx(t)

	var snaps subagent.SnapshotResponse
	require.NoError(t, c.Call(ctx, "ImageStore.CreateSnapshot", &subagent.SnapshotRequest{ID: gid, Dest: "w", Recursive: true}, &snaps))
	require.Len(t, snaps.Snapshots, 3)
	var images subagent.ImageResponse
	require.NoError(t, c.Call(ctx, "ImageStore.ListImages", &subagent.ImageRequest{}, &images))
	require.Equal(t, "base", images.Images[0].ID)

	err := c.Call(ctx, "ImageStore.GetSnapshot", &subagent.SnapshotRequest{ID: gid + "@nope"}, &snaps)
	require.EqualError(t, err, "ImageStore.GetSnapshot: snapshot "+gid+"@nope: not found")
	require.Equal(t, subagent.CodeNotFound, subagent.ErrorCode(err))
	err = c.Call(ctx, "ImageStore.DeleteImage", &subagent.ImageRequest{ID: "base"}, &images)
	require.ErrorContains(t, err, "in use by guest disk "+disk0+" (and 0 more): conflict")
	require.Equal(t, subagent.CodeConflict, subagent.ErrorCode(err))
	err = c.Call(ctx, "ImageStore.CreateSnapshot", &subagent.SnapshotRequest{ID: gid, Dest: "bad name"}, &snaps)
	require.Equal(t, subagent.CodeInvalid, subagent.ErrorCode(err), "%v", err)

	var g subagent.GuestResponse
	require.NoError(t, c.Call(ctx, "ImageStore.DeleteGuestsDisks", &subagent.GuestRequest{Guest: &subagent.Guest{ID: guestID}}, &g))
	raw, err := json.Marshal(g.Guest)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"`+guestID+`"}`, string(raw))
}
