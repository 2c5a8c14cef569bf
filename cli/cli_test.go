package cli

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// runIn runs `memproxy args...` in a fresh working directory with env as
// its whole environment, and returns its exit code, stdout, stderr and what
// it left in that directory. Its context is already cancelled: a command
// that (wrongly) starts the server stops again at once instead of serving
// on, so a regression fails the test rather than hanging it.
func runIn(t *testing.T, env []string, args ...string) (code int, stdout, stderr string, left []string) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code = Main(ctx, args, env, &out, &errOut)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		left = append(left, e.Name())
	}
	return code, out.String(), errOut.String(), left
}

// quiet keeps a server that starts by mistake off the usual port.
var quiet = []string{"MEMPROXY_LISTEN=127.0.0.1:0", "MEMPROXY_LOG_LEVEL=error"}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}, {"serve", "--help"}} {
		code, out, errOut, left := runIn(t, quiet, args...)
		if code != 0 {
			t.Errorf("memproxy %v: exit %d, want 0\nstderr: %s", args, code, errOut)
		}
		if errOut != "" {
			t.Errorf("memproxy %v wrote to stderr: %q", args, errOut)
		}
		// The usage names every command, the main settings with their
		// variables, and where the rest is documented.
		for _, want := range []string{
			"Usage:", "memproxy [serve]", "memproxy policy check", "memproxy policy explain",
			"memproxy version", "memproxy help",
			"MEMPROXY_LISTEN", "127.0.0.1:8080", "MEMPROXY_UPSTREAM_URL", "https://api.openai.com/v1",
			"MEMPROXY_DATA_DIR", "MEMPROXY_STORE", "MEMPROXY_EMBEDDER", "MEMPROXY_API_KEYS", "MEMPROXY_CONFIG",
			"README.md", "Configuration",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("memproxy %v: usage does not mention %q:\n%s", args, want, out)
			}
		}
		if len(left) != 0 {
			t.Errorf("memproxy %v left %v in the working directory", args, left)
		}
	}
}

func TestHelpPolicy(t *testing.T) {
	for _, args := range [][]string{{"help", "policy"}, {"policy", "--help"}, {"policy", "-h"}, {"policy", "help"}} {
		code, out, errOut, left := runIn(t, quiet, args...)
		if code != 0 || !strings.Contains(out, "memproxy policy explain -agent") || errOut != "" || len(left) != 0 {
			t.Errorf("memproxy %v: exit %d, stdout %q, stderr %q, left %v", args, code, out, errOut, left)
		}
	}
	// The flags of explain, on request, to stdout.
	code, out, errOut, _ := runIn(t, quiet, "policy", "explain", "-h")
	if code != 0 || !strings.Contains(out, "-agent") || errOut != "" {
		t.Errorf("memproxy policy explain -h: exit %d, stderr %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errOut, left := runIn(t, quiet, args...)
		if code != 0 || errOut != "" || len(left) != 0 {
			t.Errorf("memproxy %v: exit %d, stderr %q, left %v", args, code, errOut, left)
		}
		// One line: the program, its version, the Go release and platform.
		if !regexp.MustCompile(`^memproxy \S+ go1\.\S+ \w+/\w+\n$`).MatchString(out) {
			t.Errorf("memproxy %v printed %q, want one line like \"memproxy v1.2.3 go1.26.8 linux/amd64\"", args, out)
		}
	}
}

func TestMisuse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the one-line error
	}{
		{[]string{"--helpp"}, `unknown flag "--helpp"`},
		{[]string{"-v"}, `unknown flag "-v"`},
		{[]string{"sevre"}, `unknown command "sevre"`},
		{[]string{"start"}, `unknown command "start"`},
		{[]string{"--"}, `unknown flag "--"`},
		{[]string{""}, `unknown command ""`},
		{[]string{"serve", "now"}, `serve takes no arguments`},
		{[]string{"version", "--short"}, `version takes no arguments`},
		{[]string{"help", "me"}, `no help on "me"`},
		// Settings are variables, not flags: say which.
		{[]string{"--listen", ":9000"}, `MEMPROXY_LISTEN`},
		{[]string{"-upstream-url=http://x/v1"}, `MEMPROXY_UPSTREAM_URL`},
		{[]string{"--data_dir", "/tmp"}, `MEMPROXY_DATA_DIR`},
	} {
		code, out, errOut, left := runIn(t, quiet, tc.args...)
		if code != 2 {
			t.Errorf("memproxy %q: exit %d, want 2", tc.args, code)
		}
		if out != "" {
			t.Errorf("memproxy %q wrote to stdout: %q", tc.args, out)
		}
		first, rest, _ := strings.Cut(errOut, "\n")
		if !strings.HasPrefix(first, "memproxy: ") || !strings.Contains(first, tc.want) {
			t.Errorf("memproxy %q: first line of stderr %q, want an error with %q", tc.args, first, tc.want)
		}
		if !strings.Contains(rest, "Usage:") {
			t.Errorf("memproxy %q: no usage after the error:\n%s", tc.args, errOut)
		}
		if len(left) != 0 {
			t.Errorf("memproxy %q left %v in the working directory: the server started", tc.args, left)
		}
	}
}

// TestServeIsTheDefault checks that no arguments, and serve, still run the
// sidecar (which makes its data directory in the working directory).
func TestServeIsTheDefault(t *testing.T) {
	for _, args := range [][]string{nil, {"serve"}} {
		code, out, errOut, left := runIn(t, quiet, args...)
		if code != 0 || out != "" {
			t.Errorf("memproxy %q: exit %d, stdout %q, stderr %s", args, code, out, errOut)
		}
		if len(left) != 1 || left[0] != "memproxy-data" {
			t.Errorf("memproxy %q left %v, want the sidecar's memproxy-data", args, left)
		}
	}
}

// TestStartupWarnsOfUnknownVariables runs the sidecar as the binary does:
// a misspelt variable is named in its logs with the setting it resembles,
// also when the configuration then fails to load.
func TestStartupWarnsOfUnknownVariables(t *testing.T) {
	env := []string{"MEMPROXY_LISTEN=127.0.0.1:0", "MEMPROXY_UPSTREAM_ULR=http://127.0.0.1:1/v1", "MEMPROXY_URL=http://127.0.0.1:8080"}
	code, _, errOut, _ := runIn(t, env)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "level=WARN") || !strings.Contains(errOut, "MEMPROXY_UPSTREAM_ULR is not a memproxy setting and is ignored; did you mean MEMPROXY_UPSTREAM_URL?") {
		t.Errorf("no warning about MEMPROXY_UPSTREAM_ULR:\n%s", errOut)
	}
	if strings.Contains(errOut, "MEMPROXY_URL is not") {
		t.Errorf("warned about MEMPROXY_URL, the clients' variable:\n%s", errOut)
	}

	code, _, errOut, _ = runIn(t, []string{"MEMPROXY_LISTEN=8080", "MEMPROXY_EMBEDER=openai"})
	if code != 1 || !strings.Contains(errOut, "did you mean MEMPROXY_EMBEDDER?") || !strings.Contains(errOut, "MEMPROXY_LISTEN") {
		t.Errorf("exit %d, want 1 with the warning and the error:\n%s", code, errOut)
	}
}

// TestSingularAPIKeyOpensTheMemoryAPI: MEMPROXY_API_KEY alone, the name the
// README's clients use, opens the memory API instead of leaving it closed.
func TestSingularAPIKeyOpensTheMemoryAPI(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "memory_api=false"},
		{[]string{"MEMPROXY_API_KEY=dev-key"}, "memory_api=true"},
		{[]string{"MEMPROXY_API_KEYS=dev-key"}, "memory_api=true"},
	} {
		code, _, errOut, _ := runIn(t, append([]string{"MEMPROXY_LISTEN=127.0.0.1:0"}, tc.env...))
		if code != 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want %s in the logs:\n%s", tc.env, code, tc.want, errOut)
		}
		if strings.Contains(errOut, "is not a memproxy setting") {
			t.Errorf("%v: warned:\n%s", tc.env, errOut)
		}
	}
}
