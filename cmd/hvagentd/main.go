// Command hvagentd is the hvagent daemon. For now it runs the built-in
// drivers as stand-alone sub-agents: `hvagentd subagent sim --listen ADDR`.
package main

import (
	"context"
	"os"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
