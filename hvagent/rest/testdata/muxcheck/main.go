// Command muxcheck imports hvagent/rest, builds a client and a handler, and
// prints every path of a list that http.DefaultServeMux would serve; the
// REST tests run it to show that the package registers nothing there.
package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hvagent/hvagent/hvagent/rest"
)

func main() {
	c := rest.NewClient("127.0.0.1:1")
	defer c.CloseIdleConnections()
	_ = rest.NewHandler(nil, rest.HandlerOptions{})
	for _, path := range []string{"/", "/debug/pprof/", "/debug/pprof/profile", "/debug/vars", "/metrics", "/healthz", "/guests"} {
		if _, pattern := http.DefaultServeMux.Handler(httptest.NewRequest("GET", path, nil)); pattern != "" {
			fmt.Printf("%s served by %q\n", path, pattern)
		}
	}
	fmt.Println("checked")
}
