package subagent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorCode(t *testing.T) {
	t.Parallel()
	base := errors.New("guest g1 is not running (state shutoff)")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Nil", nil, ""},
		{"Plain", base, ""},
		{"Coded", WithCode(CodeConflict, base), CodeConflict},
		{"Wrapped", fmt.Errorf("reboot: %w", WithCode(CodeNotFound, base)), CodeNotFound},
		{"UnknownCode", WithCode("busy", base), ""},
		{"CallError", &CallError{Kind: KindMethod, Message: "x", Code: CodeInvalid}, CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ErrorCode(tt.err))
		})
	}
	require.NoError(t, WithCode(CodeConflict, nil))
	coded := WithCode(CodeConflict, base)
	require.Equal(t, base.Error(), coded.Error(), "the text is the cause's, unchanged")
	require.ErrorIs(t, coded, base)
	var ce *CodedError
	require.ErrorAs(t, coded, &ce)
	require.Equal(t, CodeConflict, ce.Code)
}

func TestServer_Golden_Coded(t *testing.T) {
	t.Parallel()
	s := NewServer()
	Handle(s, "Libvirt.Delete", func(context.Context, *GuestRequest) (*GuestResponse, error) {
		return nil, WithCode(CodeNotFound, errors.New("not found"))
	})
	body := strings.Replace(string(readFixture(t, "guest_request.json")), "Libvirt.Create", "Libvirt.Delete", 1)
	rec := serve(s, http.MethodPost, "application/json", body)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, CodeNotFound, rec.Header().Get(HeaderErrorCode))
	require.Equal(t, string(readFixture(t, "error_reply.json")), rec.Body.String(), "the body is the original's, byte for byte")

	Handle(s, "Libvirt.Fail", func(context.Context, *GuestRequest) (*GuestResponse, error) {
		return nil, errors.New("not found")
	})
	rec = serve(s, http.MethodPost, "application/json", strings.Replace(body, "Libvirt.Delete", "Libvirt.Fail", 1))
	require.Empty(t, rec.Header().Values(HeaderErrorCode), "an error without a code sets no header")

	rec = serve(s, http.MethodPost, "application/json", `{"jsonrpc":"2.0","method":"Libvirt.Delete","params":{},"id":1}`)
	require.Equal(t, CodeNotFound, rec.Header().Get(HeaderErrorCode))
	require.JSONEq(t, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"not found"},"id":1}`, rec.Body.String())
}

func TestClient_Call_Code(t *testing.T) {
	t.Parallel()
	coded := func(code string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(HeaderErrorCode, code)
			echoID(`{"result":null,"error":"snapshot exists","id":ID}`)(w, r)
		}
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, coded(CodeConflict), ClientConfig{})
		err := c.Call(t.Context(), "Test.Snap", &VolumeRequest{}, new(VolumeResponse))
		ce := requireCallError(t, err, KindMethod)
		require.Equal(t, CodeConflict, ce.Code)
		require.Equal(t, CodeConflict, ErrorCode(err))
		require.Equal(t, "Test.Snap: snapshot exists", err.Error())
	})

	t.Run("UnknownCode", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, coded("internal"), ClientConfig{})
		err := c.Call(t.Context(), "Test.Snap", &VolumeRequest{}, new(VolumeResponse))
		ce := requireCallError(t, err, KindMethod)
		require.Empty(t, ce.Code)
		require.Empty(t, ErrorCode(err))
	})

	t.Run("CodeOnSuccessIgnored", func(t *testing.T) {
		t.Parallel()
		c := subAgent(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(HeaderErrorCode, CodeConflict)
			echoID(`{"result":{"volumes":[]},"error":null,"id":ID}`)(w, r)
		}, ClientConfig{})
		require.NoError(t, c.Call(t.Context(), "Test.Snap", &VolumeRequest{}, new(VolumeResponse)))
	})
}

// TestServer_Client_Code runs a coded method error and a coded stream
// failure from Server to Client over real HTTP.
func TestServer_Client_Code(t *testing.T) {
	t.Parallel()
	s := NewServer()
	Handle(s, "Test.Reboot", func(context.Context, *GuestRequest) (*GuestResponse, error) {
		return nil, fmt.Errorf("reboot: %w", WithCode(CodeConflict, errors.New("guest g1 is not running")))
	})
	s.HandleRaw("/download", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, 0, WithCode(CodeNotFound, errors.New("snapshot guests/g1@s1 not found")))
	}))
	s.HandleRaw("/plain", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, 0, errors.New("disk on fire"))
	}))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	c := NewClient(ClientConfig{URL: srv.URL + RPCPath})
	t.Cleanup(c.CloseIdleConnections)
	err := c.Call(t.Context(), "Test.Reboot", &GuestRequest{}, new(GuestResponse))
	ce := requireCallError(t, err, KindMethod)
	require.Equal(t, CodeConflict, ce.Code)
	require.Equal(t, "Test.Reboot: reboot: guest g1 is not running", err.Error())

	c = NewClient(ClientConfig{URL: srv.URL + "/download", HTTPClient: srv.Client()})
	_, _, err = c.Stream(t.Context(), &SnapshotRequest{ID: "guests/g1@s1"})
	ce = requireCallError(t, err, KindHTTP)
	require.Equal(t, http.StatusNotFound, ce.Status)
	require.Equal(t, CodeNotFound, ce.Code)
	require.Equal(t, "snapshot guests/g1@s1 not found", ce.Message)

	c = NewClient(ClientConfig{URL: srv.URL + "/plain", HTTPClient: srv.Client()})
	_, _, err = c.Stream(t.Context(), &SnapshotRequest{})
	ce = requireCallError(t, err, KindHTTP)
	require.Equal(t, http.StatusInternalServerError, ce.Status)
	require.Empty(t, ce.Code)
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, http.StatusBadRequest, StatusOf(WithCode(CodeInvalid, errors.New("x"))))
	require.Equal(t, http.StatusNotFound, StatusOf(WithCode(CodeNotFound, errors.New("x"))))
	require.Equal(t, http.StatusConflict, StatusOf(WithCode(CodeConflict, errors.New("x"))))
	require.Equal(t, http.StatusInternalServerError, StatusOf(errors.New("x")))
}
