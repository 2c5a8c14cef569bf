//go:build pprof

// This file is compiled only into builds with the pprof tag (go build
// -tags pprof), which the benchmark makes to profile the sidecar under
// load (go run ./bench -profile DIR). It serves net/http/pprof on
// MEMPROXY_PPROF_LISTEN, a listener of its own: the profiling endpoints
// are never on the sidecar's API listener, and never in a release build.

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("MEMPROXY_PPROF_LISTEN")
	if addr == "" {
		return
	}
	go func() {
		slog.Info("pprof listening", "addr", addr)
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener failed", "err", err)
		}
	}()
}
