package subagent

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testServer registers the methods the server tests call.
func testServer() *Server {
	s := NewServer()
	Handle(s, "Test.Echo", func(ctx context.Context, req *VolumeRequest) (*VolumeResponse, error) {
		jobID, attempt := CallInfo(ctx)
		dev := jobID
		if attempt != 0 {
			dev += "#" + strconv.Itoa(attempt)
		}
		return &VolumeResponse{Volumes: []*Volume{{ID: req.ID, Size: req.Size, Device: dev}}}, nil
	})
	Handle(s, "Test.Fail", func(context.Context, *VolumeRequest) (*VolumeResponse, error) {
		return nil, errors.New("no such volume")
	})
	Handle(s, "Test.Panic", func(context.Context, *VolumeRequest) (*VolumeResponse, error) {
		panic("boom")
	})
	Handle(s, "Test.Nil", func(context.Context, *VolumeRequest) (*VolumeResponse, error) {
		return nil, nil
	})
	Handle(s, "Test.NaN", func(context.Context, *VolumeRequest) (*GuestCPUMetrics, error) {
		return &GuestCPUMetrics{CPUTime: math.NaN()}, nil
	})
	return s
}

func TestServer_ServeHTTP(t *testing.T) {
	t.Parallel()
	s := testServer()
	const jsonType = "application/json"

	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantBody    string
	}{
		{"OK", "POST", jsonType, `{"method":"Test.Echo","params":[{"id":"v1","size":5}],"id":1}`,
			200, `{"result":{"volumes":[{"id":"v1","size":5,"device":""}]},"error":null,"id":1}` + "\n"},
		{"BareObjectParams", "POST", "application/json; charset=utf-8", `{"method":"Test.Echo","params":{"id":"v1"},"id":"x"}`,
			200, `{"result":{"volumes":[{"id":"v1","size":0,"device":""}]},"error":null,"id":"x"}` + "\n"},
		{"NoParams", "POST", jsonType, `{"method":"Test.Echo","id":2}`,
			200, `{"result":{"volumes":[{"id":"","size":0,"device":""}]},"error":null,"id":2}` + "\n"},
		{"NoID", "POST", jsonType, `{"method":"Test.Fail","params":[{}]}`,
			200, `{"result":null,"error":"no such volume","id":null}` + "\n"},
		{"MethodError", "POST", jsonType, `{"method":"Test.Fail","params":[{}],"id":3}`,
			200, `{"result":null,"error":"no such volume","id":3}` + "\n"},
		{"Panic", "POST", jsonType, `{"method":"Test.Panic","params":[{}],"id":4}`,
			200, `{"result":null,"error":"panic in Test.Panic: boom","id":4}` + "\n"},
		{"NilResult", "POST", jsonType, `{"method":"Test.Nil","params":[{}],"id":5}`,
			200, `{"result":null,"error":"no result","id":5}` + "\n"},
		{"UnencodableResult", "POST", jsonType, `{"method":"Test.NaN","params":[{}],"id":6}`,
			200, `{"result":null,"error":"rpc: encode result: json: unsupported value: NaN","id":6}` + "\n"},
		{"ErrGET", "GET", "", ``, 405, `rpc: POST method required, received GET`},
		{"ErrContentType", "POST", "text/plain", `{}`, 415, `rpc: unrecognized Content-Type: text/plain`},
		{"ErrNoContentType", "POST", "", `{}`, 415, `rpc: unrecognized Content-Type: `},
		{"ErrUnknownMethod", "POST", jsonType, `{"method":"Test.Nope","params":[{}],"id":1}`,
			400, `rpc: can't find method "Test.Nope"`},
		{"ErrUnknownService", "POST", jsonType, `{"method":"Nope.Echo","params":[{}],"id":1}`,
			400, `rpc: can't find service "Nope.Echo"`},
		{"ErrIllFormedMethod", "POST", jsonType, `{"method":"Echo","params":[{}],"id":1}`,
			400, `rpc: service/method request ill-formed: "Echo"`},
		{"ErrBadParams", "POST", jsonType, `{"method":"Test.Echo","params":[{"size":"big"}],"id":1}`,
			400, `rpc: invalid params: json: cannot unmarshal string into Go struct field VolumeRequest.size of type uint64`},
		{"ErrTwoParams", "POST", jsonType, `{"method":"Test.Echo","params":[{},{}],"id":1}`,
			400, `rpc: invalid params: params has 2 elements, want 1`},
		{"ErrNotJSON", "POST", jsonType, `hello`, 400, `rpc: invalid request: invalid character 'h' looking for beginning of value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(s, tt.method, tt.contentType, tt.body)
			require.Equal(t, tt.wantStatus, rec.Code)
			require.Equal(t, tt.wantBody, rec.Body.String())
			if tt.wantStatus == 200 {
				require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			} else {
				require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestServer_ServeHTTP_JSONRPC2(t *testing.T) {
	t.Parallel()
	s := testServer()

	tests := []struct {
		name     string
		body     string
		wantBody string
	}{
		{"OK", `{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"v1"},"id":1}`,
			`{"jsonrpc":"2.0","result":{"volumes":[{"id":"v1","size":0,"device":""}]},"id":1}`},
		{"PositionalParams", `{"jsonrpc":"2.0","method":"Test.Echo","params":[{"id":"v2"}],"id":"a"}`,
			`{"jsonrpc":"2.0","result":{"volumes":[{"id":"v2","size":0,"device":""}]},"id":"a"}`},
		{"ErrMethod", `{"jsonrpc":"2.0","method":"Test.Fail","params":{},"id":2}`,
			`{"jsonrpc":"2.0","error":{"code":-32000,"message":"no such volume"},"id":2}`},
		{"ErrPanic", `{"jsonrpc":"2.0","method":"Test.Panic","id":3}`,
			`{"jsonrpc":"2.0","error":{"code":-32000,"message":"panic in Test.Panic: boom"},"id":3}`},
		{"ErrMethodNotFound", `{"jsonrpc":"2.0","method":"Test.Nope","id":4}`,
			`{"jsonrpc":"2.0","error":{"code":-32601,"message":"rpc: can't find method \"Test.Nope\""},"id":4}`},
		{"ErrInvalidParams", `{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":5},"id":5}`,
			`{"jsonrpc":"2.0","error":{"code":-32602,"message":"rpc: invalid params: json: cannot unmarshal number into Go struct field VolumeRequest.id of type string"},"id":5}`},
		{"ErrParse", `{"jsonrpc":"2.0","method":"Test.Echo",`,
			`{"jsonrpc":"2.0","error":{"code":-32700,"message":"rpc: unexpected end of JSON input"},"id":null}`},
		{"ErrInvalidRequest", `{"jsonrpc":"2.0","method":7,"id":6}`,
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"rpc: json: cannot unmarshal number into Go struct field envelope.method of type string"},"id":null}`},
		{"ErrNoMethod", `{"jsonrpc":"2.0","id":7}`,
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"rpc: method missing"},"id":7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(s, http.MethodPost, "application/json", tt.body)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, tt.wantBody+"\n", rec.Body.String())
		})
	}

	t.Run("Notification", func(t *testing.T) {
		t.Parallel()
		rec := serve(s, http.MethodPost, "application/json", `{"jsonrpc":"2.0","method":"Test.Fail","params":{}}`)
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Empty(t, rec.Body.String())
	})
}

func TestServer_ServeHTTP_JSONRPC2Batch(t *testing.T) {
	t.Parallel()
	s := testServer()
	many := "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"v"},"id":1},`, maxBatch) +
		`{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"v"},"id":1}]`
	tests := []struct {
		name     string
		body     string
		wantBody string // "" for no content
	}{
		{"Calls", ` [{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"v1"},"id":1},
			{"jsonrpc":"2.0","method":"Test.Fail","params":{},"id":"b"},
			{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"n"}},
			{"jsonrpc":"2.0","method":"Test.Nope","id":3}]`,
			`[{"jsonrpc":"2.0","result":{"volumes":[{"id":"v1","size":0,"device":""}]},"id":1},` +
				`{"jsonrpc":"2.0","error":{"code":-32000,"message":"no such volume"},"id":"b"},` +
				`{"jsonrpc":"2.0","error":{"code":-32601,"message":"rpc: can't find method \"Test.Nope\""},"id":3}]`},
		{"InvalidElements", `[1, {"method":"Test.Echo","id":2}, {"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"v3"},"id":3}]`,
			`[{"jsonrpc":"2.0","error":{"code":-32600,"message":"rpc: not a JSON-RPC 2.0 request"},"id":null},` +
				`{"jsonrpc":"2.0","error":{"code":-32600,"message":"rpc: not a JSON-RPC 2.0 request"},"id":null},` +
				`{"jsonrpc":"2.0","result":{"volumes":[{"id":"v3","size":0,"device":""}]},"id":3}]`},
		{"Trailing", `[] "jsonrpc"`, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"rpc: invalid character '\"' after top-level value"},"id":null}`},
		{"TooLong", many, `{"jsonrpc":"2.0","error":{"code":-32600,"message":"rpc: a batch holds at most 100 calls, got 101"},"id":null}`},
		{"Malformed", `[{"jsonrpc":"2.0"`, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"rpc: unexpected end of JSON input"},"id":null}`},
		{"OnlyNotifications", `[{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"n"}},{"jsonrpc":"2.0","method":"Test.Nope"}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(s, http.MethodPost, "application/json", tt.body)
			if tt.wantBody == "" {
				require.Equal(t, http.StatusNoContent, rec.Code)
				require.Empty(t, rec.Body.String())
				return
			}
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, tt.wantBody+"\n", rec.Body.String())
		})
	}
}

// TestServer_ServeHTTP_Batch10 checks that an array without "jsonrpc" is
// a bad request, as for the original's 1.0 codec, which had no batches.
func TestServer_ServeHTTP_Batch10(t *testing.T) {
	t.Parallel()
	rec := serve(testServer(), http.MethodPost, "application/json", `[{"method":"Test.Echo","params":[{"id":"v1"}],"id":1}]`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, "rpc: invalid request: json: cannot unmarshal array into Go value of type subagent.envelope", rec.Body.String())
}

func TestServer_ServeHTTP_TooLarge(t *testing.T) {
	t.Parallel()
	body := `{"method":"Test.Echo","params":[{"id":"` + strings.Repeat("x", maxRequest) + `"}],"id":1}`
	rec := serve(testServer(), http.MethodPost, "application/json", body)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	require.Equal(t, "rpc: request body too large (limit 16 MiB)", rec.Body.String())
}

func TestHandle(t *testing.T) {
	t.Parallel()

	t.Run("ErrTwice", func(t *testing.T) {
		t.Parallel()
		s := testServer()
		require.PanicsWithValue(t, `subagent: method "Test.Echo" registered twice`, func() {
			Handle(s, "Test.Echo", func(context.Context, *VolumeRequest) (*VolumeResponse, error) { return nil, nil })
		})
	})

	t.Run("ErrName", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"Echo", ".Echo", "Test.", "A.B.C"} {
			require.Panics(t, func() {
				Handle(NewServer(), name, func(context.Context, *VolumeRequest) (*VolumeResponse, error) { return nil, nil })
			}, name)
		}
	})
}

func TestServer_HandleRaw(t *testing.T) {
	t.Parallel()
	s := NewServer()
	s.HandleRaw("/snapshots/download", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jobID, attempt := CallInfo(r.Context())
		_, _ = io.WriteString(w, jobID+" "+strconv.Itoa(attempt))
	}))
	r := httptest.NewRequest(http.MethodPost, "/snapshots/download", strings.NewReader(`{}`))
	r.Header.Set(HeaderJobID, "job-1")
	r.Header.Set(HeaderAttempt, "3")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "job-1 3", rec.Body.String())

	rec = serve(s, http.MethodPost, "application/json", `{}`)
	require.Equal(t, http.StatusBadRequest, rec.Code, "no method registered yet")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}

// TestServer_Client runs the Client against the Server over real HTTP.
func TestServer_Client(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(testServer())
	t.Cleanup(srv.Close)
	c := NewClient(ClientConfig{URL: srv.URL + RPCPath})
	t.Cleanup(c.CloseIdleConnections)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var resp VolumeResponse
		require.NoError(t, c.Call(WithCall(t.Context(), "job-9", 2), "Test.Echo", &VolumeRequest{ID: "v", Size: 7}, &resp))
		require.Equal(t, []*Volume{{ID: "v", Size: 7, Device: "job-9#2"}}, resp.Volumes)
	})

	t.Run("ErrMethod", func(t *testing.T) {
		t.Parallel()
		err := c.Call(t.Context(), "Test.Fail", &VolumeRequest{}, new(VolumeResponse))
		requireCallError(t, err, KindMethod)
		require.Equal(t, "Test.Fail: no such volume", err.Error())
	})

	t.Run("ErrPanic", func(t *testing.T) {
		t.Parallel()
		err := c.Call(t.Context(), "Test.Panic", &VolumeRequest{}, new(VolumeResponse))
		requireCallError(t, err, KindMethod)
		require.Equal(t, "Test.Panic: panic in Test.Panic: boom", err.Error())
	})

	t.Run("ErrUnknownMethod", func(t *testing.T) {
		t.Parallel()
		err := c.Call(t.Context(), "Test.Nope", &VolumeRequest{}, new(VolumeResponse))
		ce := requireCallError(t, err, KindHTTP)
		require.Equal(t, http.StatusBadRequest, ce.Status)
		require.Equal(t, `Test.Nope: sub-agent answered HTTP 400: rpc: can't find method "Test.Nope"`, err.Error())
	})
}
