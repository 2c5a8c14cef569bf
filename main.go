// Command memproxy is an OpenAI-compatible sidecar that gives any app
// long-term memory: point the app's OpenAI SDK at it and send
// X-Memory-User-Id / X-Memory-Agent-Id headers.
//
// This file only wires the process to the command line (package cli),
// which assembles the sidecar (package sidecar); see ARCHITECTURE in the
// README for what each package owns.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/memproxy/memproxy/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
