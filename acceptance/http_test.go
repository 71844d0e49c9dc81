package acceptance

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// httpTimeout bounds one request of cmdHTTP.
const httpTimeout = 20 * time.Second

// cmdHTTP sends one request to hvagentd's unix socket in $HVAGENT_DATA_DIR,
// as curl would, and prints "HTTP <status>" and the body on stdout.
//
//	http METHOD PATH [BODY]
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: http METHOD PATH [BODY]")
	}
	sock := filepath.Join(ts.Getenv("HVAGENT_DATA_DIR"), "hvagent.sock")
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	var body io.Reader
	if len(args) == 3 {
		body = strings.NewReader(args[2])
	}
	req, err := http.NewRequestWithContext(ctx, args[0], "http://localhost"+args[1], body)
	ts.Check(err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	_, _ = fmt.Fprintf(ts.Stdout(), "HTTP %d\n%s\n", resp.StatusCode, strings.TrimSpace(string(b)))
}
