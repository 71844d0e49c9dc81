package main

import (
	"net/http"
	"net/http/pprof"
)

// pprofHandler serves net/http/pprof under /debug/pprof/ on its own mux
// (never http.DefaultServeMux); hvagentd mounts it on the admin listener
// only, where the REST handler adds the admin scope check.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
