// Package cli is the memproxy command line: its commands, their usage and
// exit codes. With no command, memproxy runs the sidecar.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/internal/version"
	"github.com/memproxy/memproxy/sidecar"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Main runs the command line args (without the program's name) and returns
// the process's exit code: 0 on success, 1 on failure, 2 on misuse.
// Configuration comes from environ, a list of "NAME=value" as os.Environ
// returns it.
//
// Only `memproxy` and `memproxy serve` start the server. Any argument
// memproxy does not know is refused with its usage: a mistyped --help must
// not start a sidecar in the working directory.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve(ctx, environ, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "serve":
		if len(rest) == 1 && isHelp(rest[0]) {
			usage(stdout)
			return exitOK
		}
		if len(rest) > 0 {
			return misuse(stderr, "serve takes no arguments; the sidecar is configured by environment variables")
		}
		return serve(ctx, environ, stderr)
	case cmd == "policy":
		return policyCommand(ctx, rest, config.Getenv(environ), stdout, stderr)
	case cmd == "milvus":
		return milvusCommand(ctx, rest, config.Getenv(environ), stdout, stderr)
	case cmd == "version" || cmd == "--version" || cmd == "-version":
		if len(rest) > 0 {
			return misuse(stderr, "version takes no arguments")
		}
		fmt.Fprintf(stdout, "memproxy %s %s %s/%s\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case isHelp(cmd):
		return help(rest, stdout, stderr)
	case strings.HasPrefix(cmd, "-"):
		return misuse(stderr, unknownFlag(cmd))
	}
	return misuse(stderr, fmt.Sprintf("unknown command %q", cmd))
}

func serve(ctx context.Context, environ []string, stderr io.Writer) int {
	if err := sidecar.RunEnviron(ctx, environ, stderr, nil); err != nil {
		fmt.Fprintln(stderr, "memproxy:", err)
		return exitFailure
	}
	return exitOK
}

// isHelp reports whether arg asks for help, in any of the usual spellings.
func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

// help runs `memproxy help [command]`.
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || len(args) == 1 && slices.Contains([]string{"serve", "version", "help"}, args[0]):
		usage(stdout)
	case len(args) == 1 && args[0] == "policy":
		fmt.Fprintln(stdout, policyUsage)
	case len(args) == 1 && args[0] == "milvus":
		fmt.Fprintln(stdout, milvusUsage)
	default:
		return misuse(stderr, fmt.Sprintf("no help on %q; the commands are serve, policy, milvus, version and help", strings.Join(args, " ")))
	}
	return exitOK
}

// unknownFlag explains an unknown flag. The sidecar has none: a flag that
// names a setting, like --listen, is pointed to its variable.
func unknownFlag(arg string) string {
	msg := fmt.Sprintf("unknown flag %q", arg)
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	if name == "" {
		return msg
	}
	env := "MEMPROXY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if slices.Contains(config.Variables(), env) {
		msg += fmt.Sprintf("; settings are environment variables: set %s", env)
	}
	return msg
}

// misuse reports a command line memproxy does not understand, on one line,
// then its usage, and returns the exit code of misuse.
func misuse(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "memproxy: %s\n\n", msg)
	usage(stderr)
	return exitUsage
}

// usage writes the commands, the main settings and where the rest is.
func usage(w io.Writer) {
	d := config.Default()
	fmt.Fprintf(w, `memproxy gives any OpenAI-compatible app long-term memory: a sidecar that
recalls memories into chat requests and learns from the answers.

Usage:
  memproxy [serve]               run the sidecar (the default)
  memproxy policy check FILE     check a policy file and summarise its rules
  memproxy policy explain ...    what a request would recall and learn (memproxy help policy)
  memproxy milvus copy FROM      copy a Milvus collection into a new one (memproxy help milvus)
  memproxy version               print the version (also --version)
  memproxy help                  print this help (also -h, --help)

The sidecar takes no flags. It is configured by environment variables, or a
YAML file named by MEMPROXY_CONFIG; the main ones:
  MEMPROXY_LISTEN          address to serve on (default %s)
  MEMPROXY_UPSTREAM_URL    OpenAI-compatible API to forward to (default %s)
  MEMPROXY_DATA_DIR        outbox of turns to learn from, and the embedded store (default ./%s)
  MEMPROXY_STORE           embedded or milvus (default %s); milvus needs MEMPROXY_MILVUS_ADDRESS
  MEMPROXY_EMBEDDER        hash or openai (default %s)
  MEMPROXY_API_KEYS        comma-separated keys that open the memory API (default none: closed)

Every setting, with its YAML key: README.md, section "Configuration"
(https://github.com/memproxy/memproxy#configuration).
`, d.Listen, d.Upstream.URL, d.DataDir, d.Store, d.Embedder)
}
