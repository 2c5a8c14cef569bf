// Package minilmtest runs the all-MiniLM-L6-v2 embeddings server of
// testdata/minilm, a real semantic model offline, for tests and the
// benchmark.
package minilmtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Model is the name the server answers to, and the one to configure.
const Model = "all-MiniLM-L6-v2"

// Dimensions is the length of the model's vectors.
const Dimensions = 384

// The environment scripts/test.sh sets: the Python of the venv it
// installed testdata/minilm/requirements.txt into, and (optionally) the
// server script, by default testdata/minilm/server.py of this module.
const (
	PythonEnv = "MEMPROXY_TEST_MINILM_PYTHON"
	ScriptEnv = "MEMPROXY_TEST_MINILM_SERVER"
)

// A Server is a running embeddings server.
type Server struct {
	// BaseURL is its OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1.
	BaseURL string
	cmd     *exec.Cmd
	done    chan struct{}
	stderr  *tail
}

// DefaultScript is testdata/minilm/server.py of the module this package
// was built from.
func DefaultScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "minilm", "server.py")
}

// Start runs script with python on a free loopback port and returns once
// the server says it listens. Loading the model takes seconds (much more
// on a busy machine): ctx bounds the wait.
func Start(ctx context.Context, python, script string) (*Server, error) {
	cmd := exec.Command(python, script, "--host", "127.0.0.1", "--port", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("minilm server: %w", err)
	}
	errs := &tail{max: 4096}
	cmd.Stderr = errs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("minilm server: starting %s %s: %w", python, script, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{}), stderr: errs}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				ready <- addr
				break
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(s.done)
	}()
	select {
	case addr := <-ready:
		s.BaseURL = "http://" + addr + "/v1"
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("minilm server exited before it listened: %s", errs)
	case <-ctx.Done():
		s.Stop()
		return nil, fmt.Errorf("minilm server: not listening: %w (stderr: %s)", ctx.Err(), errs)
	}
}

// Stop ends the server and waits for it to exit.
func (s *Server) Stop() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// New starts the server for a test and stops it when the test ends. With
// no fixture installed (PythonEnv unset) the test skips, unless
// MEMPROXY_REQUIRE_SDKS is set, as scripts/test.sh does: then it fails.
func New(t testing.TB) *Server {
	t.Helper()
	python := os.Getenv(PythonEnv)
	if python == "" {
		if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
			t.Fatalf("%s is not set; scripts/test.sh installs the MiniLM fixture", PythonEnv)
		}
		t.Skipf("no MiniLM fixture (%s); run scripts/test.sh", PythonEnv)
	}
	script := os.Getenv(ScriptEnv)
	if script == "" {
		script = DefaultScript()
	}
	// Generous: the model loads in about a second on an idle machine, and
	// in over a minute on a machine that eight test suites share.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, python, script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	if len(t.buf) == 0 {
		return "(no stderr)"
	}
	return strings.TrimSpace(string(t.buf))
}
