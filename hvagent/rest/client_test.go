package rest_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/servicetest"
)

// healthyFake answers Health with status "ok".
func healthyFake() *servicetest.Fake {
	return &servicetest.Fake{HealthFunc: func(context.Context) (*hvagent.Health, error) {
		return &hvagent.Health{Status: "ok", Version: hvagent.Version}, nil
	}}
}

// recorder is an http.Handler that keeps the requests it serves.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

// back returns the request n before the last one (0: the last).
func (r *recorder) back(n int) *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1-n]
}

func (r *recorder) last() *http.Request { return r.back(0) }

func TestClient_UnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "hvagent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	rec := &recorder{next: rest.NewHandler(healthyFake(), rest.HandlerOptions{})}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: rec}}
	srv.Start()
	defer srv.Close()

	c := &rest.Client{Addr: "unix://" + sock}
	defer c.CloseIdleConnections()
	h, err := c.Health(t.Context())
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)
	require.Equal(t, "localhost", rec.last().Host)
	require.Equal(t, "/healthz", rec.last().URL.Path)
}

func TestClient_TLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(rest.NewHandler(healthyFake(), rest.HandlerOptions{}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := &rest.Client{Addr: srv.URL, TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	defer c.CloseIdleConnections()
	require.True(t, strings.HasPrefix(c.Addr, "https://"))
	_, err := c.Health(t.Context())
	require.NoError(t, err)

	_, err = rest.NewClient(srv.URL).Health(t.Context())
	require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err), "an unknown CA is refused: %v", err)
}

func TestClient_Dial(t *testing.T) {
	t.Parallel()
	rec := &recorder{next: rest.NewHandler(healthyFake(), rest.HandlerOptions{})}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	var mu sync.Mutex
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, network+" "+addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
	for _, tc := range []struct{ addr, dialed, host string }{
		{"hvagent.test:8080", "tcp hvagent.test:8080", "hvagent.test:8080"},
		{"http://hvagent.test:81", "tcp hvagent.test:81", "hvagent.test:81"},
		{"unix:///run/hvagent.sock", "unix /run/hvagent.sock", "localhost"},
	} {
		c := &rest.Client{Addr: tc.addr, Dial: dial}
		_, err := c.Health(t.Context())
		require.NoError(t, err, tc.addr)
		c.CloseIdleConnections()
		mu.Lock()
		require.Equal(t, tc.dialed, dialed[len(dialed)-1])
		mu.Unlock()
		require.Equal(t, tc.host, rec.last().Host)
	}
}

func TestClient_BadAddr(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"unix://", "ftp://h:1", "http://", "http://u:p@h:1", "http://h:1/?x=1", "h:1:2:3/%zz"} {
		_, err := rest.NewClient(addr).Health(t.Context())
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%q: %v", addr, err)
	}
}

func TestClient_PathPrefix(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("/hv/", http.StripPrefix("/hv", rest.NewHandler(healthyFake(), rest.HandlerOptions{})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, err := rest.NewClient(srv.URL + "/hv/").Health(t.Context())
	require.NoError(t, err, "a base path is kept")
}

func TestClient_Headers(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("s3cret"))
	tokens := []rest.Token{
		{Name: "ci", SHA256: hex.EncodeToString(sum[:]), Scope: rest.ScopeWrite},
	}
	reqs := make(chan hvagent.Request, 1)
	fake := &servicetest.Fake{
		DoFunc: func(_ context.Context, _, guest string, req hvagent.Request) (*hvagent.Result, error) {
			reqs <- req
			return &hvagent.Result{Job: &hvagent.Job{ID: "6f1d3c57-8f4e-4a36-bf57-0e1c1f3b9a10"}, Guest: &hvagent.Guest{ID: guest}}, nil
		},
		JobFunc: func(_ context.Context, id string) (*hvagent.Job, error) { return &hvagent.Job{ID: id}, nil },
	}
	rec := &recorder{next: rest.NewHandler(fake, rest.HandlerOptions{Tokens: tokens})}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	const guest = "4b0f3f6c-1b7d-4a53-9a43-5f8f1b0a6d2e"

	c := &rest.Client{Addr: srv.URL, Token: "s3cret"}
	defer c.CloseIdleConnections()
	_, err := c.Do(t.Context(), hvagent.ActionStart, guest, hvagent.Request{IdempotencyKey: "k1"})
	require.NoError(t, err)
	got := <-reqs
	require.Equal(t, "ci", got.RequestedBy)
	require.Equal(t, "k1", got.IdempotencyKey)
	require.Equal(t, "ci POST /guests/"+guest+"/start", got.IdemScope)
	post := rec.last()
	require.Len(t, rec.reqs, 1, "the job comes in the reply: it is not read back")
	require.Equal(t, "Bearer s3cret", post.Header.Get("Authorization"))
	require.Equal(t, "hvagent-client/"+hvagent.Version, post.Header.Get("User-Agent"))
	require.Equal(t, "k1", post.Header.Get("Idempotency-Key"))
	require.Empty(t, post.Header.Get("Accept-Encoding"), "replies are never compressed: not asked for")
	_, _ = c.Do(t.Context(), hvagent.ActionListSnapshots, guest, hvagent.Request{IdempotencyKey: "k1"}) // a GET route
	require.Equal(t, http.MethodGet, rec.last().Method)
	require.Empty(t, rec.last().Header.Get("Idempotency-Key"), "only on POST and DELETE")

	_, err = c.PatchMetadata(t.Context(), nil)
	require.Equal(t, hvagent.EFORBIDDEN, hvagent.ErrorCode(err), "write scope is not admin")
	require.Equal(t, "application/json", rec.last().Header.Get("Content-Type"))

	_, err = (&rest.Client{Addr: srv.URL, Token: "wrong"}).Guest(t.Context(), guest)
	require.Equal(t, hvagent.EUNAUTHENTICATED, hvagent.ErrorCode(err))
	_, err = rest.NewClient(srv.URL).Guest(t.Context(), guest)
	require.Equal(t, hvagent.EUNAUTHENTICATED, hvagent.ErrorCode(err))
	require.Empty(t, rec.last().Header.Get("Authorization"))
}

// TestClient_ZeroValue must not run in parallel: it sets HVAGENT_ADDR.
func TestClient_ZeroValue(t *testing.T) {
	srv := httptest.NewServer(rest.NewHandler(healthyFake(), rest.HandlerOptions{}))
	defer srv.Close()
	t.Setenv("HVAGENT_ADDR", srv.URL)
	require.Equal(t, srv.URL, rest.DefaultAddr("/ignored"))
	var c rest.Client
	defer c.CloseIdleConnections()
	h, err := c.Health(t.Context())
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)

	t.Setenv("HVAGENT_ADDR", "")
	require.Equal(t, "unix:///srv/hv/hvagent.sock", rest.DefaultAddr("/srv/hv"))
	t.Setenv("XDG_STATE_HOME", "/state")
	if os.Geteuid() != 0 {
		require.Equal(t, "unix:///state/hvagent/hvagent.sock", rest.DefaultAddr(""))
	}
}

// TestDeps keeps the root package and the REST wire cgo-free (no SQLite)
// and free of adapters and of net/http/pprof.
func TestDeps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "go must be on PATH for this test")
	for _, pkg := range []string{"..", "."} {
		out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", pkg).Output()
		require.NoError(t, err)
		deps := strings.Fields(string(out))
		require.Contains(t, deps, "github.com/hvagent/hvagent/hvagent")
		for _, dep := range deps {
			for _, banned := range []string{
				"github.com/mattn/go-sqlite3",
				"github.com/hvagent/hvagent/hvagent/store",
				"github.com/hvagent/hvagent/hvagent/driver/",
				"net/http/pprof",
			} {
				require.False(t, strings.HasPrefix(dep, banned), "%s imports %s", pkg, dep)
			}
		}
	}
}

// TestDefaultServeMux checks that importing the package and building a
// client and a handler registers nothing on http.DefaultServeMux (no
// pprof, expvar or metrics handler behind a user's back). It runs in a
// program of its own, since this test binary imports more than rest.
func TestDefaultServeMux(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(t.Context(), "go", "run", "./testdata/muxcheck").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "checked\n", string(out))
}

func TestClient_PortOnly(t *testing.T) {
	t.Parallel()
	rec := &recorder{next: rest.NewHandler(healthyFake(), rest.HandlerOptions{})}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	for _, addr := range []string{":" + port, port, "http://:" + port} {
		c := rest.NewClient(addr)
		_, err := c.Health(t.Context())
		c.CloseIdleConnections()
		require.NoError(t, err, addr)
		require.Equal(t, "127.0.0.1:"+port, rec.last().Host, addr)
	}
}

func TestClient_PortOnlyUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	_, err = rest.NewClient(":" + port).Health(t.Context())
	require.Equal(t, hvagent.EUNAVAILABLE, hvagent.ErrorCode(err))
	require.Equal(t, "cannot reach hvagentd at :"+port+" (127.0.0.1:"+port+"): connection refused", err.Error())
}

func TestClient_BadPort(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0", "65536", ":99999", "h:http", "http://h:0"} {
		_, err := rest.NewClient(addr).Health(t.Context())
		require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%q: %v", addr, err)
	}
}

func TestClient_TLSMismatch(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(rest.NewHandler(healthyFake(), rest.HandlerOptions{}))
	defer plain.Close()
	host := plain.Listener.Addr().String()
	_, err := rest.NewClient("https://" + host).Health(t.Context())
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%v", err)
	require.Equal(t, "hvagentd at https://"+host+" does not speak TLS (HTTPS): use http://"+host, err.Error())

	tlsSrv := httptest.NewUnstartedServer(rest.NewHandler(healthyFake(), rest.HandlerOptions{}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	host = tlsSrv.Listener.Addr().String()
	_, err = rest.NewClient(host).Health(t.Context())
	require.Equal(t, hvagent.EINVALID, hvagent.ErrorCode(err), "%v", err)
	require.Equal(t, "hvagentd at "+host+" speaks TLS (HTTPS), not plain HTTP: use https://"+host, err.Error())
}

// TestClient_KeepAlive: concurrent callers of the job path (each queueing
// an action, then waiting for its job, again and again) reuse their
// connections: the client opens about one per caller, not one per request,
// and never closes one.
func TestClient_KeepAlive(t *testing.T) {
	t.Parallel()
	const callers, rounds = 8, 25
	job := &hvagent.Job{ID: "6f1d3c57-8f4e-4a36-bf57-0e1c1f3b9a10", Action: hvagent.ActionStart}
	fake := &servicetest.Fake{
		DoFunc: func(_ context.Context, _, guest string, _ hvagent.Request) (*hvagent.Result, error) {
			j := *job
			return &hvagent.Result{Job: &j, Guest: &hvagent.Guest{ID: guest}}, nil
		},
		WaitJobFunc: func(context.Context, string) (*hvagent.Job, error) {
			j := *job
			j.Status = hvagent.JobComplete
			return &j, nil
		},
	}
	var opened, closed atomic.Int64
	srv := httptest.NewUnstartedServer(rest.NewHandler(fake, rest.HandlerOptions{}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := rest.NewClient(srv.URL)
	defer c.CloseIdleConnections()
	const guest = "4b0f3f6c-1b7d-4a53-9a43-5f8f1b0a6d2e"
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			for range rounds {
				res, err := c.Do(t.Context(), hvagent.ActionStart, guest, hvagent.Request{})
				if err == nil {
					_, err = c.WaitJob(t.Context(), res.Job.ID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, opened.Load(), int64(2*callers), "connections opened for %d requests", 2*callers*rounds)
	require.Zero(t, closed.Load(), "no connection closed while in use")
}

// TestClient_ServerClosedIdle: connections that hvagentd closed while
// they were idle (its idle timeout, a restart) cost the next requests a
// new connection, never an error.
func TestClient_ServerClosedIdle(t *testing.T) {
	t.Parallel()
	var opened atomic.Int64
	closed := make(chan struct{}, 16)
	srv := httptest.NewUnstartedServer(rest.NewHandler(healthyFake(), rest.HandlerOptions{}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	c := rest.NewClient(srv.URL)
	defer c.CloseIdleConnections()
	for round := range 3 {
		_, err := c.Health(t.Context())
		require.NoError(t, err, "round %d", round)
		srv.CloseClientConnections()
		<-closed
	}
	_, err := c.Health(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(4), opened.Load())
}
