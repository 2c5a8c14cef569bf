package e2e

// What the end-to-end tests share: the sidecar started in-process, the SDK
// tools and scripts, Milvus Lite servers of a test's own, and waitFor.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/backoff"
	"github.com/memproxy/memproxy/internal/fakeupstream"
	memproxy "github.com/memproxy/memproxy/sidecar"
)

const apiKey = "e2e-key"

// sidecar is the real memproxy, started through memproxy.Run as the binary
// starts it, in front of a fake upstream.
type sidecar struct {
	t    *testing.T
	url  string
	up   *fakeupstream.Upstream
	env  map[string]string
	logs *syncBuffer
	stop func() error
}

// syncBuffer collects the sidecar's logs, shown when a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startSidecar(t *testing.T, env map[string]string) *sidecar {
	t.Helper()
	up := fakeupstream.New()
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	s := &sidecar{t: t, up: up, env: map[string]string{
		"MEMPROXY_LISTEN":       "127.0.0.1:0",
		"MEMPROXY_UPSTREAM_URL": upSrv.URL + "/v1",
		"MEMPROXY_DATA_DIR":     t.TempDir(),
		"MEMPROXY_API_KEYS":     apiKey,
		"MEMPROXY_LOG_LEVEL":    "debug",
		// A recall that times out on a busy machine fails open and injects
		// nothing, and a test about what is injected, learned or isolated
		// would fail for a reason that is not its own. Tests whose subject
		// is the budget or failing open set a short one themselves.
		"MEMPROXY_RECALL_TIMEOUT": "1m",
	}}
	for k, v := range env {
		s.env[k] = v
	}
	logs := &syncBuffer{}
	s.logs = logs
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- memproxy.Run(ctx, func(k string) string { return s.env[k] }, logs, func(a string) { addr <- a })
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-done:
		t.Fatalf("the sidecar did not start: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("the sidecar did not start in 20s\n%s", logs)
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				stopErr = errors.New("the sidecar did not stop in 40s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stopping the sidecar: %v", err)
		}
		if t.Failed() {
			t.Logf("sidecar logs:\n%s", logs)
		}
	})
	return s
}

// do sends a request to the sidecar.
func (s *sidecar) do(method, path, body string, header map[string]string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of a series in the sidecar's /metrics, or -1
// when it is not there (yet).
func (s *sidecar) metric(series string) float64 {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// chatStatus sends a chat request and returns the answer's
// X-Memory-Status and status code (0 if the call itself failed, which it
// reports). It may be called from any goroutine.
func (s *sidecar) chatStatus(body string, header map[string]string) (string, int) {
	req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Errorf("chat call: %v", err)
		return "", 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Memory-Status"), resp.StatusCode
}

func (s *sidecar) addPersona(agent, text string) {
	s.t.Helper()
	code, body := s.do("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"`+text+`"}],"agent_id":"`+agent+`"}`,
		map[string]string{"Authorization": "Token " + apiKey})
	if code != 200 {
		s.t.Fatalf("adding the persona: %d %s", code, body)
	}
}

// recallFor returns what the upstream receives for a chat request the
// test sends for user to agent, once the sidecar has learned what earlier
// turns taught it (learning is asynchronous: it asks again for a while
// until want appears).
func (s *sidecar) recallFor(user, agent, want string) string {
	s.t.Helper()
	var body string
	waitFor(5*time.Second, func() bool {
		s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What do you remember about me?"}]}`,
			map[string]string{"X-Memory-User-Id": user, "X-Memory-Agent-Id": agent, "X-Memory-Mode": "read"})
		r, _ := s.up.Last("/v1/chat/completions")
		body = string(r.Body)
		return strings.Contains(body, want)
	})
	return body
}

// checkUpstreamSawMemory checks every chat request the upstream received:
// memory block in, identity headers out, the client's key through.
func (s *sidecar) checkUpstreamSawMemory(persona string, atLeast int) {
	s.t.Helper()
	n := 0
	for _, r := range s.up.Requests() {
		if r.Path != "/v1/chat/completions" && r.Path != "/v1/responses" {
			continue
		}
		n++
		for h := range r.Header {
			if strings.HasPrefix(strings.ToLower(h), "x-memory-") {
				s.t.Errorf("%s reached the upstream with header %s", r.Path, h)
			}
		}
		if r.Header.Get("Authorization") != "Bearer sk-client-key" {
			s.t.Errorf("%s: upstream Authorization = %q, want the client's key", r.Path, r.Header.Get("Authorization"))
		}
		if !strings.Contains(string(r.Body), "<memproxy-memories>") || !strings.Contains(string(r.Body), persona) {
			s.t.Errorf("%s reached the upstream without the persona block: %s", r.Path, r.Body)
		}
	}
	if n < atLeast {
		s.t.Errorf("the upstream saw %d chat requests, want the SDK's %d or more", n, atLeast)
	}
}

// sdkTool returns the path of an SDK test tool, or skips the test when it
// is missing outside CI. scripts/test.sh installs the tools and sets
// MEMPROXY_REQUIRE_SDKS=1, which turns a missing tool into a failure.
func sdkTool(t *testing.T, path, what string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(path); err == nil {
		return p
	}
	if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
		t.Fatalf("%s is missing (%s); scripts/test.sh installs it", what, path)
	}
	t.Skipf("%s is missing (%s); run scripts/test.sh to install the SDKs", what, path)
	return ""
}

func python(t *testing.T, module string) string {
	t.Helper()
	return pythonFrom(t, "MEMPROXY_TEST_PYTHON", "../.venv-test/bin/python", module)
}

// pythonFrom returns the Python named by the environment variable env (or
// def) after checking that it can import module.
func pythonFrom(t *testing.T, env, def, module string) string {
	t.Helper()
	py := os.Getenv(env)
	if py == "" {
		py = def
	}
	py = sdkTool(t, py, "Python with the test SDKs ("+env+")")
	if out, err := exec.Command(py, "-c", "import "+module).CombinedOutput(); err != nil {
		if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
			t.Fatalf("%s cannot import %s: %s", py, module, out)
		}
		t.Skipf("%s cannot import %s; run scripts/test.sh", py, module)
	}
	return py
}

func runScript(t *testing.T, env map[string]string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("%s failed: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// runSDKScript runs a script that asserts as it goes and ends by printing
// ALL OK.
func runSDKScript(t *testing.T, env map[string]string, name string, args ...string) {
	t.Helper()
	if out := runScript(t, env, name, args...); !strings.Contains(out, "ALL OK") {
		t.Fatalf("%s did not finish its checks", strings.Join(args, " "))
	}
}

const fitcoachPersona = "I am FitCoach, supportive and motivational."

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// milvusEnv configures the sidecar for the Milvus server at addr, in a
// collection of its own.
func milvusEnv(addr string) map[string]string {
	b := make([]byte, 6)
	rand.Read(b)
	return map[string]string{
		"MEMPROXY_STORE":                  "milvus",
		"MEMPROXY_MILVUS_ADDRESS":         addr,
		"MEMPROXY_MILVUS_COLLECTION":      "memproxy_e2e_" + hex.EncodeToString(b),
		"MEMPROXY_MILVUS_CONNECT_TIMEOUT": "2s",
		// A Milvus Lite starved of CPU by other work answers health checks
		// slowly; these tests are not about how soon the store gives up on
		// it (a killed server refuses connections at once).
		"MEMPROXY_MILVUS_HEALTH_TIMEOUT": "15s",
	}
}

// poll spaces the checks of waitFor: quick at first, for conditions that
// hold at once, then no more than ten a second, for slow servers.
var poll = backoff.Policy{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}

// waitFor checks cond until it holds or d passes, and reports whether it
// held. It is how every test here waits for something that happens in
// the background (a turn learned, a server up): on the event itself,
// never on a guess of how long it takes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for n := 1; !cond(); n++ {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll.Delay(n))
	}
	return true
}

// liteServer is a Milvus Lite process of the test's own, which it may kill.
type liteServer struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
}

// milvusLiteBin returns the milvus-lite server of .venv-milvus (or
// MEMPROXY_TEST_MILVUS_LITE_BIN), for tests that start and kill their own.
func milvusLiteBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("MEMPROXY_TEST_MILVUS_LITE_BIN")
	if bin == "" {
		bin = "../.venv-milvus/bin/milvus-lite"
	}
	return sdkTool(t, bin, "the milvus-lite server")
}

// startLite starts Milvus Lite on addr with its data in dir, and waits
// until it accepts connections.
func startLite(t *testing.T, bin, dir, addr string) *liteServer {
	t.Helper()
	l := &liteServer{t: t, bin: bin, dir: dir, addr: addr}
	host, port, _ := net.SplitHostPort(addr)
	l.cmd = exec.Command(bin, "server", "--data-dir", dir, "--host", host, "--port", port)
	log, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "lite.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	l.cmd.Stdout, l.cmd.Stderr = log, log
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.kill(); log.Close() })
	if !waitFor(60*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("Milvus Lite did not listen on %s in 60s", addr)
	}
	return l
}

// kill ends the server at once, as a crash would (SIGKILL).
func (l *liteServer) kill() {
	if l.cmd.ProcessState == nil {
		syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
		l.cmd.Wait()
	}
}

// metric returns the value of the series named by a line prefix
// (name{labels}) in a Prometheus text exposition.
func metric(t *testing.T, exposition, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no series %s in /metrics", series)
	return 0
}
