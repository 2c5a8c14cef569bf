// Package cli is the memproxy command line: its subcommands, their usage
// and exit codes. With no subcommand, memproxy runs the sidecar.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/memproxy/memproxy/sidecar"
)

// Main runs the command line args (without the program's name) and returns
// the process's exit code: 0 on success, 1 on failure, 2 on misuse.
// Configuration comes from getenv, as from the environment.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "policy" {
		return policyCommand(ctx, args[1:], getenv, stdout, stderr)
	}
	// Any other arguments are ignored, as they always were: the sidecar is
	// configured by its environment and file alone.
	if err := sidecar.Run(ctx, getenv, stderr, nil); err != nil {
		fmt.Fprintln(stderr, "memproxy:", err)
		return 1
	}
	return 0
}
