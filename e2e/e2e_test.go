package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	memproxy "github.com/memproxy/memproxy/sidecar"
)

// TestOpenAIPythonSDK drives the sidecar with the official Python SDK:
// chat (plain, streamed, tools, usage chunk), Responses (plain, streamed),
// embeddings, models and errors.
func TestOpenAIPythonSDK(t *testing.T) {
	py := python(t, "openai")
	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v1", fitcoachPersona)
	runSDKScript(t, map[string]string{"MEMPROXY_URL": s.url}, py, "../testdata/sdk/python/openai_sdk.py")
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
	sdkTool(t, "../testdata/sdk/node/node_modules/openai/package.json", "the Node openai package")
	node := sdkTool(t, "node", "Node.js")
	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v2", "I provide concrete metrics and percentages.")
	runSDKScript(t, map[string]string{"MEMPROXY_URL": s.url}, node, "../testdata/sdk/node/openai_sdk.mjs")
	s.checkUpstreamSawMemory("concrete metrics", 7)
	if body := s.recallFor("mike", "fitcoach_v2", "I bench 185 lbs."); !strings.Contains(body, "I bench 185 lbs.") {
		t.Errorf("Mike's fact was not learned: next request carried %s", body)
	}
}

// TestReadmeFitCoachExample runs the README's FitCoach example as written,
// against the sidecar and a fake upstream, and checks the README shows it.
func TestReadmeFitCoachExample(t *testing.T) {
	example, err := os.ReadFile("../examples/fitcoach.py")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, bytes.TrimSpace(example)) {
		t.Errorf("README.md does not show examples/fitcoach.py as it is")
	}
	py := python(t, "openai")
	s := startSidecar(t, nil)
	out := runScript(t, map[string]string{"MEMPROXY_URL": s.url, "MEM0_API_KEY": apiKey, "OPENAI_API_KEY": "sk-client-key"}, py, "../examples/fitcoach.py")
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
// open: the stream completes, its turn is learned, and Run returns.
func TestGracefulShutdownFinishesStreams(t *testing.T) {
	s := startSidecar(t, nil)
	// The upstream holds its answer until the sidecar has begun to shut
	// down, so the stream is open when the stop comes; the chunks are then
	// paced, so that it stays open for a while under the shutdown.
	var once sync.Once
	forwarded := make(chan struct{})
	s.up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.URL.Path == "/v1/chat/completions" {
			once.Do(func() { close(forwarded) })
			if !waitFor(20*time.Second, func() bool { return strings.Contains(s.logs.String(), "shutting down") }) {
				t.Errorf("the sidecar did not begin to shut down")
			}
		}
		return false
	}
	s.up.ChunkDelay = 30 * time.Millisecond
	req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"My favourite race is the Berlin marathon."}]}`))
	req.Header.Set("X-Memory-User-Id", "sarah")
	type answer struct {
		body []byte
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{nil, err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- answer{body, err}
	}()
	select {
	case <-forwarded:
	case a := <-answered:
		t.Fatalf("the request never reached the upstream: %v %q", a.err, a.body)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	a := <-answered
	if a.err != nil || !strings.HasSuffix(string(a.body), "data: [DONE]\n\n") {
		t.Fatalf("the stream was cut by the shutdown: %v, %q", a.err, a.body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Start again on the same data: the turn was learned before the stop.
	s2 := startSidecar(t, map[string]string{"MEMPROXY_DATA_DIR": s.env["MEMPROXY_DATA_DIR"]})
	if got := s2.recallFor("sarah", "", "Berlin marathon"); !strings.Contains(got, "Berlin marathon") {
		t.Errorf("the turn of the last stream was lost in the shutdown: %s", got)
	}
}

// TestStartupErrorsNameTheSetting checks that Run refuses bad settings at
// start with a message naming them.
func TestStartupErrorsNameTheSetting(t *testing.T) {
	for env, want := range map[string]string{
		"MEMPROXY_UPSTREAM_URL": "MEMPROXY_UPSTREAM_URL",
		"MEMPROXY_LISTEN":       "MEMPROXY_LISTEN",
	} {
		err := memproxy.Run(context.Background(), func(k string) string {
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
	err := memproxy.Run(context.Background(), func(k string) string {
		return map[string]string{"MEMPROXY_EMBEDDER": "openai", "MEMPROXY_EMBEDDING_URL": "http://127.0.0.1:1/v1", "MEMPROXY_DATA_DIR": t.TempDir()}[k]
	}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "MEMPROXY_EMBEDDER") {
		t.Errorf("unreachable embedder: run = %v", err)
	}
}
