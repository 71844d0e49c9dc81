package rest

import (
	"context"
	"net/http"

	"github.com/coder/websocket"

	"github.com/hvagent/hvagent/hvagent"
)

// attachConsole opens an interactive console (Request.Attach) over a
// WebSocket on call's path: the Result's Stream reads the guest's output,
// its Input writes keystrokes, and closing Stream detaches. The session
// also ends with ctx. Errors of the handshake are the handler's, mapped
// like any reply (not_found, conflict when the guest does not run,
// forbidden without scope write).
func (c *Client) attachConsole(ctx context.Context, call clientCall) (*hvagent.Result, error) {
	conn, err := c.connect()
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, conn, call)
	if err != nil {
		return nil, err
	}
	req.Header.Del("Accept")
	ws, resp, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{
		HTTPClient: conn.console,
		HTTPHeader: req.Header,
		Host:       req.Host,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			defer resp.Body.Close()
			return nil, clientReadError(resp)
		}
		if ctx.Err() != nil {
			return nil, hvagent.ContextError(ctx)
		}
		return nil, hvagent.WrapError(hvagent.EUNAVAILABLE, err, "console of %s: %v", conn.addr, err)
	}
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	return &hvagent.Result{Stream: nc, Input: nc, Size: -1}, nil
}
