// Command hvctl is the command line of hvagent: it drives hvagentd through
// its REST API, or with --local runs the agent in process. See `hvctl
// --help` and docs/cli.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], SystemIO(), os.Getenv)) }
