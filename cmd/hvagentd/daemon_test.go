package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/host"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/settings"
	"github.com/hvagent/hvagent/internal/testguest"
)

// daemon is an hvagentd running in the test process.
type daemon struct {
	*Main
	dir  string
	logs *logBuffer
}

// newDaemon parses hvagentd's flags (a fresh data dir and a free loopback
// port come first, so args may override them) with an empty environment.
func newDaemon(t testing.TB, args ...string) (*daemon, error) {
	t.Helper()
	d := &daemon{Main: NewMain(), dir: tempDir(t), logs: &logBuffer{}}
	d.Stderr = d.logs
	d.LookupEnv = func(string) (string, bool) { return "", false }
	testguest.KillQEMUs(t, d.dir)
	args = append([]string{"--data-dir", d.dir, "--listen", "127.0.0.1:0"}, withConfig(args)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hvagentd log:\n%s", d.logs.String())
		}
	})
	return d, d.ParseFlags(args)
}

// simConfig is the config file of most tests' daemons: every action wired
// to the simulation. Tests of the embedded default pass --config "".
const simConfig = "../../testdata/sim.json"

// withConfig prepends --config simConfig to args that name no config.
func withConfig(args []string) []string {
	if slices.Contains(args, "--config") || slices.Contains(args, "-c") {
		return args
	}
	return append([]string{"--config", simConfig}, args...)
}

// startDaemon runs an in-process hvagentd and closes it when the test ends.
func startDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	d, err := newDaemon(t, args...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	require.NoError(t, d.Run(context.Background()))
	return d
}

// get sends a GET to the daemon's TCP listener and returns status and body.
func (d *daemon) get(t testing.TB, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+d.TCPAddr()+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := httpClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestDaemon_EmbeddedDefault(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--config", "")
	ctx := context.Background()

	tcp := newClient(t, d.TCPAddr())
	h, err := tcp.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)
	require.False(t, h.Simulated)
	require.Equal(t, []string{"qemu", "storage"}, h.Builtins)
	_, ok := d.logs.find(func(e map[string]any) bool { return e["message"] == embeddedDefaultNotice && e["level"] == "info" })
	require.True(t, ok, "start-up warning missing")

	// The unix socket serves the same agent without a token.
	unix := newClient(t, "unix://"+d.SocketPath())
	res, err := unix.Do(ctx, hvagent.ActionCreate, "", hvagent.Request{Guest: &hvagent.Guest{Memory: 256, CPU: 1}})
	require.NoError(t, err)
	require.Equal(t, hvagent.JobComplete, waitJob(t, unix, res.Job.ID).Status)
	g, err := tcp.Guest(ctx, res.Guest.ID)
	require.NoError(t, err)
	require.Equal(t, "shutoff", g.State)

	// The effective config is written for hvctl --local.
	path := filepath.Join(d.dir, "config.json")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	cfg, err := settings.Load(path)
	require.NoError(t, err)
	require.Equal(t, d.dir, cfg.DataDir)
	require.Equal(t, filepath.Join(d.dir, "hvagent.db"), cfg.DBPath)
	require.Equal(t, "127.0.0.1:0", cfg.Listen)
	require.Len(t, cfg.Actions, len(host.Default().Actions))
	require.NoError(t, cfg.Validate())
}

func TestDaemon_SocketMode(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--socket-group", strconv.Itoa(os.Getgid()))
	require.Equal(t, filepath.Join(d.dir, "hvagent.sock"), d.SocketPath())
	fi, err := os.Stat(d.SocketPath())
	require.NoError(t, err)
	require.Equal(t, fs.ModeSocket, fi.Mode().Type())
	require.Equal(t, fs.FileMode(0o660), fi.Mode().Perm())
	require.Equal(t, uint32(os.Getgid()), fi.Sys().(*syscall.Stat_t).Gid)
	_, warned := d.logs.find(func(e map[string]any) bool {
		return strings.HasPrefix(e["message"].(string), "socket_group members cannot reach the socket")
	})
	require.True(t, warned, "the data dir is 0700: the group cannot reach the socket")

	require.NoError(t, d.Close())
	_, err = os.Stat(d.SocketPath())
	require.ErrorIs(t, err, fs.ErrNotExist, "socket removed at exit")
}

func TestDaemon_SocketGroupUnknown(t *testing.T) {
	t.Parallel()
	d, err := newDaemon(t, "--socket-group", "no-such-group-hvagent")
	require.NoError(t, err)
	err = d.Run(context.Background())
	require.NoError(t, d.Close())
	require.ErrorContains(t, err, "socket_group no-such-group-hvagent: no such group")
}

func TestDaemon_SecondDaemonRefused(t *testing.T) {
	t.Parallel()
	first := startDaemon(t)
	second, err := newDaemon(t, "--data-dir", first.dir)
	require.NoError(t, err)
	err = second.Run(context.Background())
	require.NoError(t, second.Close())
	require.ErrorContains(t, err, "open store: database "+filepath.Join(first.dir, "hvagent.db")+" is in use by another hvagent (pid ")
	require.Equal(t, hvagent.ECONFLICT, hvagent.ErrorCode(err))

	// The first one is unharmed, its socket included.
	h, err := newClient(t, "unix://"+first.SocketPath()).Health(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)
}

func TestDaemon_ListenOff(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--listen", "")
	require.Empty(t, d.TCPAddr())
	_, err := newClient(t, "unix://"+d.SocketPath()).Health(context.Background())
	require.NoError(t, err)
	cfg, err := settings.Load(filepath.Join(d.dir, "config.json"))
	require.NoError(t, err)
	require.Equal(t, "off", cfg.Listen)
	require.NoError(t, cfg.Validate())
}

func TestDaemon_StaleSocket(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close()) // as a killed daemon leaves it

	d := startDaemon(t, "--socket", sock)
	_, err = newClient(t, "unix://"+sock).Health(context.Background())
	require.NoError(t, err)

	// A socket someone answers on is not taken over.
	other, err := newDaemon(t, "--socket", sock)
	require.NoError(t, err)
	err = other.Run(context.Background())
	require.NoError(t, other.Close())
	require.ErrorContains(t, err, "socket "+sock+" is in use by another server")
	_, err = newClient(t, "unix://"+d.SocketPath()).Health(context.Background())
	require.NoError(t, err)

	// Nor is a file that is not a socket.
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, []byte("x"), 0o600))
	other, err = newDaemon(t, "--socket", plain)
	require.NoError(t, err)
	err = other.Run(context.Background())
	require.NoError(t, other.Close())
	require.ErrorContains(t, err, "the file exists and is not a socket")
}

func TestDaemon_Tokens(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	sum := sha256.Sum256([]byte("s3cret"))
	tokens := filepath.Join(dir, "tokens.json")
	require.NoError(t, os.WriteFile(tokens,
		[]byte(`[{"name":"ci","sha256":"`+hex.EncodeToString(sum[:])+`","scope":"read"}]`), 0o600))
	d := startDaemon(t, "--tokens-file", tokens)
	ctx := context.Background()

	_, err := newClient(t, d.TCPAddr()).Metadata(ctx)
	require.Equal(t, hvagent.EUNAUTHENTICATED, hvagent.ErrorCode(err))
	withToken := newClient(t, d.TCPAddr())
	withToken.Token = "s3cret"
	_, err = withToken.Metadata(ctx)
	require.NoError(t, err)
	_, err = withToken.PatchMetadata(ctx, map[string]string{"a": "b"})
	require.Equal(t, hvagent.EFORBIDDEN, hvagent.ErrorCode(err), "read scope")
	// The log names the caller: refused credentials at warn.
	_, ok := d.logs.find(func(e map[string]any) bool {
		return e["message"] == "request" && e["method"] == "PATCH" && e["caller"] == "ci" && e["status"] == float64(403) && e["level"] == "warn"
	})
	require.True(t, ok, d.logs.String())
	_, ok = d.logs.find(func(e map[string]any) bool {
		return e["message"] == "request" && e["status"] == float64(401) && e["level"] == "warn" && e["caller"] == nil
	})
	require.True(t, ok, d.logs.String())

	// The unix socket needs no token: its mode guards it.
	md, err := newClient(t, "unix://"+d.SocketPath()).PatchMetadata(ctx, map[string]string{"a": "b"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "b"}, md)

	// A bad tokens file stops the start.
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[]`), 0o600))
	other, err := newDaemon(t, "--tokens-file", bad)
	require.NoError(t, err)
	err = other.Run(context.Background())
	require.NoError(t, other.Close())
	require.ErrorContains(t, err, "tokens_file: tokens file "+bad+": no tokens")
}

func TestDaemon_HostCheck(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	_, port, err := net.SplitHostPort(d.TCPAddr())
	require.NoError(t, err)
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		code, body := d.get(t, "/metadata", "Host", host)
		require.Equal(t, http.StatusOK, code, "%s: %s", host, body)
	}
	code, body := d.get(t, "/metadata", "Host", "evil.example:"+port)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = d.get(t, "/metadata", "Origin", "http://evil.example")
	require.Equal(t, http.StatusForbidden, code, body)
}

func TestDaemon_Admin(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--admin-listen", "127.0.0.1:0")
	require.NotEmpty(t, d.AdminAddr())
	require.Equal(t, map[string]string{listenerUnix: "sync", listenerTCP: "sync", listenerAdmin: "net/http"}, serverKinds(d.Main),
		"plain listeners serve through a rest.SyncServer; the admin listener (pprof) through net/http alone")
	hc := httpClient(t)
	get := func(url string) (int, string) {
		resp, err := hc.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("http://" + d.AdminAddr() + "/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine")
	code, _ = get("http://" + d.TCPAddr() + "/debug/pprof/")
	require.Equal(t, http.StatusNotFound, code, "pprof only on the admin listener")
	for _, addr := range []string{d.AdminAddr(), d.TCPAddr()} {
		code, body = get("http://" + addr + "/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "hvagent_queue_scrape_error 0")
		require.Contains(t, body, "go_goroutines")
		require.Contains(t, body, "process_open_fds")
	}
}

func TestDaemon_SimJSONConfig(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--config", "../../testdata/sim.json", "--log-level", "debug")
	h, err := newClient(t, d.TCPAddr()).Health(context.Background())
	require.NoError(t, err)
	require.True(t, h.Simulated)
	_, ok := d.logs.find(func(e map[string]any) bool {
		return e["message"] == "services using the SIMULATED driver (no real guests): sim, simConsole, simDownload" && e["level"] == "warn"
	})
	require.True(t, ok)
	_, ok = d.logs.find(func(e map[string]any) bool {
		return e["message"] == "request" && e["path"] == "/healthz" && e["status"] == float64(200)
	})
	require.True(t, ok, "debug request log")
}

func TestDaemon_CloseEndsLongRequests(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--shutdown-timeout", "1m")
	resp, err := httpClient(t).Get("http://" + d.TCPAddr() + "/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	start := time.Now()
	require.NoError(t, d.Close())
	require.Less(t, time.Since(start), 10*time.Second, "an open event stream must not hold the stop")
	_, err = io.ReadAll(resp.Body)
	require.True(t, err == nil || strings.Contains(err.Error(), "EOF"), "%v", err)
}

func TestRun_Daemon(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--data-dir", dir, "--listen", "127.0.0.1:0", "-l", "debug"}, strings.NewReader(""), io.Discard, logs)
	}()
	c := newClient(t, "unix://"+filepath.Join(dir, "hvagent.sock"))
	require.Eventually(t, func() bool {
		h, err := c.Health(context.Background())
		return err == nil && h.Status == "ok"
	}, 20*time.Second, 10*time.Millisecond, "%s", logs)
	c.CloseIdleConnections()
	cancel()
	require.Equal(t, 0, <-done, logs.String())
	_, ok := logs.find(func(e map[string]any) bool { return e["message"] == "hvagentd stopped" })
	require.True(t, ok, logs.String())
}

func TestRun_DaemonErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, exitFailure, "hvagentd: config: listen 0.0.0.0:0 is not a loopback address"},
		{[]string{"--max-queued", "lots"}, exitUsage, `hvagentd: invalid argument "lots" for "--max-queued" flag`},
		{[]string{"extra"}, exitUsage, `hvagentd: unknown command "extra" for "hvagentd"`},
		{[]string{"--listen", "127.0.0.1:0", "--config", "/nonexistent/hvagent.json"}, exitFailure, "hvagentd: read config"},
	} {
		var stderr strings.Builder
		args := append([]string{"--data-dir", tempDir(t)}, tt.args...)
		require.Equal(t, tt.code, run(context.Background(), args, strings.NewReader(""), io.Discard, &stderr), "%q", tt.args)
		require.Contains(t, stderr.String(), tt.want)
		require.Equal(t, tt.code == exitUsage, strings.Contains(stderr.String(), "\nUsage: hvagentd [flags]\n       hvagentd [command]\n"), stderr.String())
	}
}

func TestDaemon_SocketPathTooLong(t *testing.T) {
	t.Parallel()
	long := filepath.Join(tempDir(t), strings.Repeat("d", 100))
	d, err := newDaemon(t, "--data-dir", long)
	require.NoError(t, err)
	err = d.Run(context.Background())
	require.NoError(t, d.Close())
	sock := filepath.Join(long, "hvagent.sock")
	require.EqualError(t, err, "socket "+sock+": the path is "+strconv.Itoa(len(sock))+
		" bytes, longer than the 107 a unix socket path may have: set a shorter socket (--socket, HVAGENT_SOCKET or \"socket\" in the config file)")

	// A socket elsewhere lets the daemon run on that data dir.
	d = startDaemon(t, "--data-dir", long, "--socket", filepath.Join(tempDir(t), "api.sock"))
	_, err = newClient(t, "unix://"+d.SocketPath()).Health(context.Background())
	require.NoError(t, err)
}

// serverKinds names the server of each of m's listeners: "sync" or
// "net/http".
func serverKinds(m *Main) map[string]string {
	kinds := map[string]string{}
	for _, s := range m.servers {
		kinds[s.name] = "net/http"
		if _, ok := s.srv.(*rest.SyncServer); ok {
			kinds[s.name] = "sync"
		}
	}
	return kinds
}
