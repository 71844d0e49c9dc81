package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/testguest"
)

// TestQEMU_Storage covers the storage driver through REST on a running
// guest: a refused rollback, snapshot downloads, failed image fetches.
func TestQEMU_Storage(t *testing.T) {
	t.Parallel()
	h := startQEMUHost(t)
	id := h.create(16)
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	h.waitConsole(id, testguest.BootMarker, 1)
	h.ok(http.MethodPost, "/guests/"+id+"/snapshots", `{"dest": "s1"}`)

	t.Run("RollbackRunning", func(t *testing.T) { storageRollbackRunning(t, h, id) })
	t.Run("DownloadDisk", func(t *testing.T) {
		b := h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/disks/0/snapshots/s1/download", "").body
		requireQcow2(t, b)
	})
	t.Run("DownloadGuest", func(t *testing.T) {
		b := h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/snapshots/s1/download", "").body
		tr := tar.NewReader(bytes.NewReader(b))
		n := 0
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			disk, err := io.ReadAll(tr)
			require.NoError(t, err)
			requireQcow2(t, disk)
			n++
			t.Logf("snapshot tar entry %s: %d bytes", hdr.Name, len(disk))
		}
		require.Equal(t, 1, n, "one disk, one entry")
	})
	t.Run("FetchBadChecksum", func(t *testing.T) { storageFetchBadChecksum(t, h) })
	t.Run("FetchFileOutside", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "img.qcow2")
		require.NoError(t, os.WriteFile(outside, []byte("x"), 0o600))
		r := h.a.want(http.StatusBadRequest, http.MethodPost, "/images", `{"id": "outside", "source": "file://`+outside+`"}`)
		require.Contains(t, string(r.body), "file:// sources must be absolute paths under an allowed directory")
		require.Contains(t, string(r.body), `"error":"invalid"`)
		requireNoImage(t, h, "outside")
	})
	// The guest is still running, with its snapshot; another one is taken
	// and deleted online.
	pid := h.requireRunning(id)
	h.ok(http.MethodPost, "/guests/"+id+"/snapshots", `{"dest": "s2"}`)
	h.ok(http.MethodDelete, "/guests/"+id+"/snapshots/s2", "")
	h.a.want(http.StatusNotFound, http.MethodGet, "/guests/"+id+"/snapshots/s2", "")
	require.Equal(t, pid, h.requireRunning(id))

	// Stopped, the guest rolls back.
	h.ok(http.MethodPost, "/guests/"+id+"/poweroff", "")
	h.ok(http.MethodPost, "/guests/"+id+"/snapshots/s1/rollback", "")
	h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/snapshots/s1", "")
}

// storageRollbackRunning rolls a running guest back: the job ends Error
// with the code conflict, in the ?wait= reply, the client and hvctl's exit
// code.
func storageRollbackRunning(t *testing.T, h *qemuHost, id string) {
	job := h.run(http.MethodPost, "/guests/"+id+"/snapshots/s1/rollback", "")
	require.Equal(t, hvagent.JobError, job.Status, job.Message)
	require.Equal(t, hvagent.ECONFLICT, job.Error, job.Message)
	require.Contains(t, job.Message, "conflict")
	got, err := h.c.Job(t.Context(), job.ID)
	require.NoError(t, err)
	require.Equal(t, hvagent.ECONFLICT, got.Error)

	cmd := exec.CommandContext(t.Context(), binary(t, "hvctl"), "--addr", h.a.base, "snapshot", "rollback", id, "s1", "--wait")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, 4, exit.ExitCode(), "hvctl exits 4 for conflict: %s", out)
}

// storageFetchBadChecksum fetches an image whose sha256 is wrong: the job
// ends Error saying so, and nothing is left of it.
func storageFetchBadChecksum(t *testing.T, h *qemuHost) {
	img := filepath.Join(t.TempDir(), "img.qcow2")
	out, err := exec.CommandContext(t.Context(), "qemu-img", "create", "-q", "-f", "qcow2", img, "1M").CombinedOutput()
	require.NoError(t, err, "qemu-img (Debian package qemu-utils): %s", out)
	data, err := os.ReadFile(img)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(data) }))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(data)
	wrong := strings.Repeat("ab", sha256.Size)

	job := h.run(http.MethodPost, "/images", `{"id": "bad-sum", "source": "`+srv.URL+`/img.qcow2", "sha256": "`+wrong+`"}`)
	require.Equal(t, hvagent.JobError, job.Status, job.Message)
	require.Contains(t, job.Message, "sha256 mismatch")
	require.Contains(t, job.Message, hex.EncodeToString(sum[:]), "the message names the sum found")
	require.Contains(t, job.Message, wrong, "and the one wanted")
	requireNoImage(t, h, "bad-sum")
}

// requireNoImage requires that the image is unknown to the API and that
// nothing but the staged test guest is under the images dir, and nothing
// under the storage driver's tmp dir.
func requireNoImage(t *testing.T, h *qemuHost, imageID string) {
	h.a.want(http.StatusNotFound, http.MethodGet, "/images/"+imageID, "")
	entries, err := os.ReadDir(filepath.Join(h.dir, "images"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{filepath.Base(testguestDir)}, names, "the images dir holds only the staged test guest")
	entries, err = os.ReadDir(filepath.Join(h.dir, "tmp"))
	if !errors.Is(err, os.ErrNotExist) {
		require.NoError(t, err)
		require.Empty(t, entries, "the storage driver's tmp dir")
	}
}

// requireQcow2 writes b to a file and requires `qemu-img check` to pass on
// it as a qcow2 image.
func requireQcow2(t *testing.T, b []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "snap.qcow2")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	out, err := exec.CommandContext(t.Context(), "qemu-img", "check", "-f", "qcow2", p).CombinedOutput()
	require.NoError(t, err, "qemu-img check: %s", out)
	require.Contains(t, string(out), "No errors were found")
}

// TestQEMU_ImageDisk fetches an image over HTTP (checksum right), boots a
// guest on an overlay of it next to a blank disk, and checks that the guest
// reads the image and that the image is kept while a guest uses it.
func TestQEMU_ImageDisk(t *testing.T) {
	t.Parallel()
	h := startQEMUHost(t)
	data := imageWithFirstLine(t, "hello from the e2e image")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(data) }))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(data)
	h.ok(http.MethodPost, "/images", `{"id": "e2e-img", "source": "`+srv.URL+`/img.qcow2", "sha256": "`+hex.EncodeToString(sum[:])+`"}`)
	var img hvagent.Image
	h.a.want(http.StatusOK, http.MethodGet, "/images/e2e-img", "").decode(t, &img)
	require.Equal(t, "e2e-img", img.ID)
	require.Equal(t, uint64(4), img.Size, "MB")

	job := h.ok(http.MethodPost, "/guests", fmt.Sprintf(`{"memory": %d, "disks": [{"image": "e2e-img"}, {"size": 8}], "boot": %s}`,
		testguest.MemoryMiB, h.boot))
	id := job.GuestID
	h.ok(http.MethodPost, "/guests/"+id+"/start", "")
	h.waitConsole(id, testguest.BootMarker, 1)
	console := h.console(id)
	require.Contains(t, console, testguest.DiskPrefix+"vda sectors=8192 first-line=hello from the e2e image")
	require.Contains(t, console, testguest.DiskPrefix+"vdb sectors=16384 ")

	for kind, want := range map[string]string{"cpu": `"cpu_time"`, "disk": `"vdb"`} {
		r := h.a.want(http.StatusOK, http.MethodGet, "/guests/"+id+"/metrics/"+kind, "")
		require.Contains(t, string(r.body), want, kind)
	}

	del := h.run(http.MethodDelete, "/images/e2e-img", "")
	require.Equal(t, hvagent.JobError, del.Status, "an image in use stays")
	require.Equal(t, hvagent.ECONFLICT, del.Error, del.Message)
	h.ok(http.MethodDelete, "/guests/"+id, "")
	h.requireGone(id)
	h.ok(http.MethodDelete, "/images/e2e-img", "")
	requireNoImage(t, h, "e2e-img")
}

// imageWithFirstLine returns a 4 MiB qcow2 image whose first line is line.
func imageWithFirstLine(t *testing.T, line string) []byte {
	t.Helper()
	dir := t.TempDir()
	raw, qcow := filepath.Join(dir, "img.raw"), filepath.Join(dir, "img.qcow2")
	require.NoError(t, os.WriteFile(raw, []byte(line+"\n"), 0o600))
	require.NoError(t, os.Truncate(raw, 4<<20))
	out, err := exec.CommandContext(t.Context(), "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow).CombinedOutput()
	require.NoError(t, err, "qemu-img: %s", out)
	data, err := os.ReadFile(qcow)
	require.NoError(t, err)
	return data
}
