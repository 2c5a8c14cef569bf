package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/fakeupstream"
)

const apiKey = "e2e-key"

// sidecar is the real memproxy, started through run() as the binary would
// be, in front of a fake upstream.
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
		done <- run(ctx, func(k string) string { return s.env[k] }, logs, func(a string) { addr <- a })
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

func (s *sidecar) addPersona(agent, text string) {
	s.t.Helper()
	code, body := s.do("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"`+text+`"}],"agent_id":"`+agent+`"}`,
		map[string]string{"Authorization": "Token " + apiKey})
	if code != 200 {
		s.t.Fatalf("adding the persona: %d %s", code, body)
	}
}

// chatBody returns what the upstream receives for a chat request the
// test sends for user to agent, once the sidecar has learned what
// earlier turns taught it (learning is asynchronous: it retries for a
// while until want appears).
func (s *sidecar) recallFor(user, agent, want string) string {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What do you remember about me?"}]}`,
			map[string]string{"X-Memory-User-Id": user, "X-Memory-Agent-Id": agent, "X-Memory-Mode": "read"})
		r, _ := s.up.Last("/v1/chat/completions")
		if strings.Contains(string(r.Body), want) || time.Now().After(deadline) {
			return string(r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	return pythonFrom(t, "MEMPROXY_TEST_PYTHON", ".venv-test/bin/python", module)
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

// TestOpenAIPythonSDK drives the sidecar with the official Python SDK:
// chat (plain, streamed, tools, usage chunk), Responses (plain, streamed),
// embeddings, models and errors.
func TestOpenAIPythonSDK(t *testing.T) {
	py := python(t, "openai")
	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v1", fitcoachPersona)
	runSDKScript(t, map[string]string{"MEMPROXY_URL": s.url}, py, "testdata/sdk/python/openai_sdk.py")
	s.checkUpstreamSawMemory(fitcoachPersona, 9)
	if r, ok := s.up.Last("/v1/embeddings"); !ok || !strings.Contains(string(r.Body), `"encoding_format":"base64"`) {
		t.Errorf("embeddings did not pass through as the SDK sent them: %s", r.Body)
	}
	// What Sarah said through the SDK was learned, from Chat and Responses.
	for _, fact := range []string{"I ran 12K this morning.", "I prefer running in the evening."} {
		if body := s.recallFor("sarah", "fitcoach_v1", fact); !strings.Contains(body, fact) {
			t.Errorf("Sarah's %q was not learned: next request carried %s", fact, body)
		}
	}
}

// TestOpenAINodeSDK does the same with the official Node SDK.
func TestOpenAINodeSDK(t *testing.T) {
	sdkTool(t, "testdata/sdk/node/node_modules/openai/package.json", "the Node openai package")
	node := sdkTool(t, "node", "Node.js")
	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v2", "I provide concrete metrics and percentages.")
	runSDKScript(t, map[string]string{"MEMPROXY_URL": s.url}, node, "testdata/sdk/node/openai_sdk.mjs")
	s.checkUpstreamSawMemory("concrete metrics", 7)
	if body := s.recallFor("mike", "fitcoach_v2", "I bench 185 lbs."); !strings.Contains(body, "I bench 185 lbs.") {
		t.Errorf("Mike's fact was not learned: next request carried %s", body)
	}
}

// TestReadmeFitCoachExample runs the README's FitCoach example as written,
// against the sidecar and a fake upstream, and checks the README shows it.
func TestReadmeFitCoachExample(t *testing.T) {
	example, err := os.ReadFile("examples/fitcoach.py")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, bytes.TrimSpace(example)) {
		t.Errorf("README.md does not show examples/fitcoach.py as it is")
	}
	py := python(t, "openai")
	s := startSidecar(t, nil)
	out := runScript(t, map[string]string{"MEMPROXY_URL": s.url, "MEMPROXY_API_KEY": apiKey, "OPENAI_API_KEY": "sk-client-key"}, py, "examples/fitcoach.py")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "[memory: injected]") {
		t.Errorf("the example's last request did not get memories: %q", last)
	}
	last, _ := s.up.Last("/v1/chat/completions")
	for _, want := range []string{"FitCoach", "half marathon"} {
		if !strings.Contains(string(last.Body), want) {
			t.Errorf("Sarah's last request lacks %q: %s", want, last.Body)
		}
	}
	var mike string
	for _, r := range s.up.Requests() {
		if r.Path == "/v1/chat/completions" && strings.Contains(string(r.Body), "Bench press") {
			mike = string(r.Body)
		}
	}
	if strings.Contains(mike, "half marathon") {
		t.Errorf("Mike's request carries Sarah's memory: %s", mike)
	}
}

// TestGracefulShutdownFinishesStreams stops the sidecar while a stream is
// open: the stream completes, its turn is learned, and run returns.
func TestGracefulShutdownFinishesStreams(t *testing.T) {
	s := startSidecar(t, nil)
	s.up.ChunkDelay = 30 * time.Millisecond
	req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"My favourite race is the Berlin marathon."}]}`))
	req.Header.Set("X-Memory-User-Id", "sarah")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("the stream was cut by the shutdown: %v, %q", err, body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("run: %v", err)
	}
	// Start again on the same data: the turn was learned before the stop.
	s2 := startSidecar(t, map[string]string{"MEMPROXY_DATA_DIR": s.env["MEMPROXY_DATA_DIR"]})
	if got := s2.recallFor("sarah", "", "Berlin marathon"); !strings.Contains(got, "Berlin marathon") {
		t.Errorf("the turn of the last stream was lost in the shutdown: %s", got)
	}
}

// TestStartupErrorsNameTheSetting checks that run refuses bad settings at
// start with a message naming them.
func TestStartupErrorsNameTheSetting(t *testing.T) {
	for env, want := range map[string]string{
		"MEMPROXY_UPSTREAM_URL": "MEMPROXY_UPSTREAM_URL",
		"MEMPROXY_LISTEN":       "MEMPROXY_LISTEN",
	} {
		err := run(context.Background(), func(k string) string {
			if k == env {
				return "::not valid::"
			}
			return ""
		}, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s invalid: run = %v, want an error naming it", env, err)
		}
	}
	// The openai embedder probes its server at start-up.
	err := run(context.Background(), func(k string) string {
		return map[string]string{"MEMPROXY_EMBEDDER": "openai", "MEMPROXY_EMBEDDING_URL": "http://127.0.0.1:1/v1", "MEMPROXY_DATA_DIR": t.TempDir()}[k]
	}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "MEMPROXY_EMBEDDER") {
		t.Errorf("unreachable embedder: run = %v", err)
	}
}
