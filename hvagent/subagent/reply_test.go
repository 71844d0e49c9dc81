package subagent

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		reply    string
		wantKind ErrorKind // 0: no error
		wantMsg  string
	}{
		{"OK", `{"result":{"message":"hi"},"error":null,"id":123}`, 0, ""},
		{"OKNoErrorKey", `{"result":{"message":"hi"},"id":123}`, 0, ""},
		{"OKStringID", `{"jsonrpc":"2.0","result":{"message":"hi"},"id":"123"}`, 0, ""},
		{"Method", `{"result":null,"error":"not found","id":123}`, KindMethod, "not found"},
		{"MethodEmpty", `{"result":null,"error":"","id":123}`, KindMethod, ""},
		{"MethodObject", `{"jsonrpc":"2.0","error":{"code":-32000,"message":"boom"},"id":123}`, KindMethod, "boom"},
		{"MethodOther", `{"result":null,"error":42,"id":123}`, KindMethod, "42"},
		{"NullResult", `{"result":null,"error":null,"id":123}`, KindNullResult, "result is null"},
		{"NoResult", `{"id":123}`, KindNullResult, "result is null"},
		{"IDMismatch", `{"result":{},"error":null,"id":124}`, KindDecode, "reply id 124 does not match request id 123"},
		{"IDFloat", `{"result":{},"error":null,"id":123.0}`, KindDecode, "reply id 123.0 does not match request id 123"},
		{"IDMissing", `{"result":{},"error":null}`, KindDecode, "reply has no id (request id 123)"},
		{"IDNull", `{"result":{},"error":"x","id":null}`, KindDecode, "reply has no id (request id 123)"},
		{"IDObject", `{"result":{},"error":null,"id":{}}`, KindDecode, "reply id {} does not match request id 123"},
		{"NotJSON", `<html>`, KindDecode, "not a JSON-RPC reply: invalid character '<' looking for beginning of value"},
		{"Array", `[]`, KindDecode, "not a JSON-RPC reply: json: cannot unmarshal array into Go value of type subagent.reply"},
		{"Null", `null`, KindDecode, "reply has no id (request id 123)"},
		{"Empty", ``, KindDecode, "not a JSON-RPC reply: unexpected end of JSON input"},
		{"WrongShape", `{"result":{"guest":[]},"error":null,"id":123}`, KindDecode,
			"decode result: json: cannot unmarshal array into Go struct field GuestResponse.guest of type subagent.Guest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var resp GuestResponse
			err := decodeReply([]byte(tt.reply), 123, &resp)
			if tt.wantKind == 0 {
				require.NoError(t, err)
				require.Equal(t, "hi", resp.Message)
				return
			}
			var re *replyError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantKind.String(), re.kind.String())
			require.Equal(t, tt.wantMsg, re.msg)
		})
	}
}

func TestCallError_Error(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *CallError
		want string
	}{
		{&CallError{Kind: KindHTTP, Method: "Libvirt.Reboot", Status: 500}, "Libvirt.Reboot: sub-agent answered HTTP 500 with an empty body"},
		{&CallError{Kind: KindHTTP, Status: 404, Message: "no such snapshot"}, "sub-agent answered HTTP 404: no such snapshot"},
		{&CallError{Kind: KindMethod, Method: "Libvirt.Reboot", Message: "no such domain"}, "Libvirt.Reboot: no such domain"},
		{&CallError{Kind: KindMethod, Method: "A.B"}, "A.B: sub-agent returned an empty error"},
		{&CallError{Kind: KindNullResult, Method: "A.B", Message: "result is null"}, "A.B: result is null"},
		{&CallError{Kind: KindDecode, Method: "A.B", Message: "reply too large"}, "A.B: invalid reply: reply too large"},
		{&CallError{Kind: KindTransport, Method: "A.B", Message: "call abandoned", Err: context.Canceled}, "A.B: call abandoned: context canceled"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.err.Error())
	}
	require.Equal(t, "kind(9)", ErrorKind(9).String())
}

func TestIsConnectError(t *testing.T) {
	t.Parallel()
	refused := &CallError{Kind: KindTransport, Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}
	require.True(t, IsConnectError(refused))
	require.True(t, IsConnectError(&CallError{Kind: KindTransport, Err: syscall.ENOENT}))
	require.False(t, IsConnectError(&CallError{Kind: KindHTTP, Status: 503, Err: syscall.ECONNREFUSED}))
	require.False(t, IsConnectError(&CallError{Kind: KindTransport, Err: errors.Join(syscall.ECONNREFUSED, context.Canceled)}))
	require.False(t, IsConnectError(&CallError{Kind: KindTransport, Err: errors.New("connection reset")}))
	require.False(t, IsConnectError(syscall.ECONNREFUSED), "only call errors")
	require.False(t, IsConnectError(nil))
}
