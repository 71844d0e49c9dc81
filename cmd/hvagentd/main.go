// Command hvagentd is the hvagent daemon: it serves the REST API of an
// hvagent.Agent on a unix socket, on TCP and on an optional admin listener
// (see Main), and runs built-in drivers as stand-alone sub-agents with
// `hvagentd subagent sim --listen ADDR`. Run `hvagentd --help` for the
// settings.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
