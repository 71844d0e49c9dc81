package subagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fixtures in testdata are the exact bytes of the original wire: the
// request the mistify-agent client sent (with id 123) and the replies the
// gorilla/rpc v1 JSON codec wrote, trailing newline included.

// envelopeID matches the id at the end of a request or reply envelope.
var envelopeID = regexp.MustCompile(`,"id":(\d+)}\n?$`)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

// fixtureGuest is the guest of guest_request.json.
func fixtureGuest(state string) *Guest {
	const id = "6a3f8c1e-2b4d-4e5f-9a7b-1c2d3e4f5a6b"
	return &Guest{
		ID:   id,
		Type: "kvm",
		Nics: []Nic{{
			Name: "eth0", Network: "br0", Model: "virtio", MAC: "52:54:00:12:34:56",
			Address: "10.0.0.5", Netmask: "255.255.255.0", Gateway: "10.0.0.1",
		}},
		Disks: []Disk{{
			Bus: "virtio", Device: "vda", Size: 10240, Volume: "guests/" + id + "/disk-0",
			Image: "ubuntu-14.04", Source: "/dev/zvol/mistify/guests/" + id + "/disk-0",
		}},
		State:    state,
		Memory:   1024,
		CPU:      2,
		Metadata: map[string]string{"owner": "ops & dev"},
	}
}

func fixtureRequest() *GuestRequest {
	return &GuestRequest{Guest: fixtureGuest("create"), Action: "create", Args: map[string]string{"bridge": "br0"}}
}

// goldenSubAgent answers with the reply fixture (its id swapped for the
// request's) when the request matches guest_request.json byte for byte, and
// with HTTP 400 naming the difference otherwise.
func goldenSubAgent(t *testing.T, replyFixture string) *Client {
	t.Helper()
	want := readFixture(t, "guest_request.json")
	reply := readFixture(t, replyFixture)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := envelopeID.FindSubmatch(body)
		switch {
		case r.Method != http.MethodPost || r.URL.Path != RPCPath:
			http.Error(w, "wrong method or path: "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
		case r.Header.Get("Content-Type") != "application/json":
			http.Error(w, "wrong content type: "+r.Header.Get("Content-Type"), http.StatusBadRequest)
		case m == nil:
			http.Error(w, "no id at the end: "+string(body), http.StatusBadRequest)
		case !bytes.Equal(envelopeID.ReplaceAll(body, []byte(`,"id":123}`)), want):
			http.Error(w, "request differs:\n"+string(body), http.StatusBadRequest)
		default:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(envelopeID.ReplaceAll(reply, []byte(`,"id":`+string(m[1])+"}\n")))
		}
	}))
	t.Cleanup(srv.Close)
	// The default HTTP client is used on purpose; closing the server ends
	// its connections.
	return NewClient(ClientConfig{URL: srv.URL + RPCPath})
}

func TestClient_Call_Golden(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := goldenSubAgent(t, "guest_reply.json")
		var resp GuestResponse
		require.NoError(t, c.Call(t.Context(), "Libvirt.Create", fixtureRequest(), &resp))
		require.Equal(t, GuestResponse{Guest: fixtureGuest("shutoff")}, resp)
	})

	t.Run("MethodError", func(t *testing.T) {
		t.Parallel()
		c := goldenSubAgent(t, "error_reply.json")
		var resp GuestResponse
		err := c.Call(t.Context(), "Libvirt.Create", fixtureRequest(), &resp)
		ce := requireCallError(t, err, KindMethod)
		require.Equal(t, "not found", ce.Message)
		require.Equal(t, "Libvirt.Create: not found", err.Error())
		require.Nil(t, resp.Guest)
	})
}

func TestServer_Golden(t *testing.T) {
	t.Parallel()
	s := NewServer()
	Handle(s, "Libvirt.Create", func(_ context.Context, req *GuestRequest) (*GuestResponse, error) {
		if req.Action != "create" || req.Args["bridge"] != "br0" || req.Guest == nil {
			return nil, fmt.Errorf("unexpected request %+v", req)
		}
		g := *req.Guest
		g.State = "shutoff"
		return &GuestResponse{Guest: &g}, nil
	})
	Handle(s, "Libvirt.Delete", func(context.Context, *GuestRequest) (*GuestResponse, error) {
		return nil, errors.New("not found")
	})
	request := readFixture(t, "guest_request.json")

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		rec := serve(s, http.MethodPost, "application/json", string(request))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
		require.Equal(t, string(readFixture(t, "guest_reply.json")), rec.Body.String())
	})

	t.Run("MethodError", func(t *testing.T) {
		t.Parallel()
		body := strings.Replace(string(request), "Libvirt.Create", "Libvirt.Delete", 1)
		rec := serve(s, http.MethodPost, "application/json", body)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, string(readFixture(t, "error_reply.json")), rec.Body.String())
	})
}

// serve sends one request to h and records the answer.
func serve(h http.Handler, method, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, RPCPath, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// requireCallError requires err to be a *CallError of kind and returns it.
func requireCallError(t *testing.T, err error, kind ErrorKind) *CallError {
	t.Helper()
	require.Error(t, err)
	var ce *CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, kind.String(), ce.Kind.String(), "error: %v", err)
	return ce
}
