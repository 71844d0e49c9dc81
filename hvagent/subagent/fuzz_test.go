package subagent

import (
	"errors"
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
