package rest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/hvagent/hvagent/hvagent"
)

// Keepalive of an interactive console: the handler pings the client every
// consolePing and ends the session when a pong takes over consolePong.
const (
	consolePing = 30 * time.Second
	consolePong = 20 * time.Second
)

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// consoleSocket serves GET /guests/{id}/console with Upgrade: websocket:
// an interactive console whose binary messages carry the guest's output
// (server to client) and keystrokes (client to server). Typing is a
// mutation, so it needs scope write; Host and Origin were checked by
// admit like for every route. Errors before the upgrade (guest not
// found, not running, scope) are ordinary JSON error replies.
func (s *server) consoleSocket(x *exchange, id string) error {
	if err := x.authorize(ScopeWrite); err != nil {
		return err
	}
	res, err := s.svc.Do(x.ctx(), hvagent.ActionConsole, id, hvagent.Request{RequestedBy: x.who.name, Attach: true})
	if err != nil {
		return err
	}
	if res == nil || res.Stream == nil || res.Input == nil {
		if res != nil && res.Stream != nil {
			_ = res.Stream.Close()
		}
		return hvagent.Errorf(hvagent.EINTERNAL, "console attach returned no session")
	}
	defer res.Stream.Close()
	rc := http.NewResponseController(x.w)
	_ = rc.SetReadDeadline(time.Time{}) // the session lasts as long as the client wants
	_ = rc.SetWriteDeadline(time.Time{})
	// admit has checked Origin against the listener's hosts already.
	ws, err := websocket.Accept(x.w, x.r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil // Accept has written the reply
	}
	s.log.Info().Str("guest", id).Str("caller", x.who.name).Msg("console attached")
	pipeConsole(x.ctx(), ws, res)
	s.log.Info().Str("guest", id).Str("caller", x.who.name).Msg("console detached")
	return nil
}

// pipeConsole copies the session's output to ws and ws's messages to its
// input until either side ends.
func pipeConsole(ctx context.Context, ws *websocket.Conn, res *hvagent.Result) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := io.Copy(nc, res.Stream)
		reason := "console ended"
		if err != nil {
			reason = "console output: " + err.Error()
		}
		_ = ws.Close(websocket.StatusNormalClosure, truncate(reason, 120))
	})
	wg.Go(func() { keepalive(ctx, ws) })
	_, _ = io.Copy(res.Input, nc)
	_ = res.Stream.Close()
	cancel()
	wg.Wait()
	_ = ws.CloseNow()
}

// keepalive pings ws until ctx ends, and drops it when a pong is late.
func keepalive(ctx context.Context, ws *websocket.Conn) {
	t := time.NewTicker(consolePing)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, consolePong)
			err := ws.Ping(pctx)
			cancel()
			if err != nil {
				_ = ws.CloseNow()
				return
			}
		}
	}
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
