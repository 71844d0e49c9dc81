package subagent

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// FuzzDecodeReply feeds arbitrary bytes to the reply decoder: it must never
// panic, and every failure must be a classified *replyError.
func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte(`{"result":{"guest":{"id":"a"}},"error":null,"id":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp GuestResponse
		err := decodeReply(data, 123, &resp)
		if err == nil {
			return
		}
		var re *replyError
		if !errors.As(err, &re) {
			t.Fatalf("error %v (%T) is not a *replyError", err, err)
		}
		if re.kind < KindTransport || re.kind > KindDecode {
			t.Fatalf("error %v has kind %d", err, re.kind)
		}
	})
}

// FuzzServeRPC feeds arbitrary request bodies to a Server: it must never
// panic, answer only with the statuses the wire has, and every 200 reply
// must be JSON.
func FuzzServeRPC(f *testing.F) {
	f.Add(`{"method":"Test.Echo","params":[{"id":"v1"}],"id":1}`)
	f.Add(`{"jsonrpc":"2.0","method":"Test.Echo","params":{"id":"v1"},"id":"a"}`)
	f.Add(`[{"jsonrpc":"2.0","method":"Test.Fail","params":{},"id":1},{"jsonrpc":"2.0","method":"Test.Echo"}]`)
	f.Add(`[1,{"jsonrpc":"2.0"}]`)
	s := testServer()
	f.Fuzz(func(t *testing.T, body string) {
		rec := serve(s, http.MethodPost, "application/json", body)
		switch rec.Code {
		case http.StatusOK:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("200 with a body that is not JSON: %q", rec.Body.String())
			}
		case http.StatusNoContent, http.StatusBadRequest:
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
