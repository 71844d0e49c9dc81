package subagent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// request is the JSON-RPC 1.0 envelope the client sends; the field order is
// the original codec's.
type request struct {
	Method string `json:"method"`
	Params [1]any `json:"params"`
	ID     uint64 `json:"id"`
}

// reply is any sub-agent reply: the original 1.0 envelope or a 2.0 one.
type reply struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// rpcError is a JSON-RPC 2.0 error object.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// replyError is what decodeReply found wrong with a reply; the client turns
// it into a *CallError for the method.
type replyError struct {
	kind ErrorKind
	msg  string
	err  error
}

func (e *replyError) Error() string { return e.msg }

// decodeReply checks that data is a reply to request wantID and decodes its
// result into result (a pointer, or nil to discard it). It returns a
// *replyError for every failure and never panics, whatever data holds.
func decodeReply(data []byte, wantID uint64, result any) error {
	if gr, ok := result.(*GuestResponse); ok && gr != nil && parseGuestReply(data, wantID, gr) {
		return nil
	}
	var r reply
	if err := json.Unmarshal(data, &r); err != nil {
		return &replyError{kind: KindDecode, msg: "not a JSON-RPC reply: " + err.Error(), err: err}
	}
	if err := checkID(r.ID, wantID); err != nil {
		return err
	}
	if !isNull(r.Error) {
		return &replyError{kind: KindMethod, msg: errorText(r.Error)}
	}
	if isNull(r.Result) {
		return &replyError{kind: KindNullResult, msg: "result is null"}
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return &replyError{kind: KindDecode, msg: "decode result: " + err.Error(), err: err}
	}
	return nil
}

// checkID accepts the request's id as a JSON number or as a string holding it.
func checkID(raw json.RawMessage, want uint64) error {
	if isNull(raw) {
		return &replyError{kind: KindDecode, msg: fmt.Sprintf("reply has no id (request id %d)", want)}
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return &replyError{kind: KindDecode, msg: "reply id: " + err.Error(), err: err}
		}
	}
	if got, err := strconv.ParseUint(text, 10, 64); err != nil || got != want {
		return &replyError{kind: KindDecode, msg: fmt.Sprintf("reply id %s does not match request id %d", capText(raw, 64), want)}
	}
	return nil
}

// errorText is the text of a reply's "error": a string verbatim, a 2.0 error
// object's message, or else the raw JSON.
func errorText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj rpcError
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	return capText(raw, maxErrorText)
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// maxErrorText caps error texts taken from sub-agent replies.
const maxErrorText = 4 << 10

// capText trims b and cuts it to at most n bytes, marking a cut with "…".
func capText(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) <= n {
		return string(b)
	}
	return string(bytes.ToValidUTF8(b[:n], nil)) + "…"
}
