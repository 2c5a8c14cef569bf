package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The mem0ai SDKs against the real sidecar: the seed cookbook's code with
// the Python SDK of the 1.0.x line it was written for and with the newest,
// the rest of the memory API with both, and the Node SDK.

// mem0Python returns the Python whose mem0ai release starts with line
// (e.g. "1.0."), from the environment variable env or def.
func mem0Python(t *testing.T, env, def, line string) string {
	t.Helper()
	py := pythonFrom(t, env, def, "importlib.metadata")
	out, err := exec.Command(py, "-c", "from importlib.metadata import version; print(version('mem0ai'))").CombinedOutput()
	v := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(v, line) {
		if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
			t.Fatalf("%s has mem0ai %q, want %s*: %v", py, v, line, err)
		}
		t.Skipf("%s has mem0ai %q, want %s*; run scripts/test.sh", py, v, line)
	}
	t.Logf("mem0ai %s (%s)", v, py)
	return py
}

// mem0Env is the environment of an SDK script: the sidecar, a memory API
// key, the app's model key and base URL (the seed's OpenAI() reads them),
// and no telemetry leaving the machine.
func mem0Env(t *testing.T, s *sidecar, extra ...string) map[string]string {
	env := map[string]string{
		"MEMPROXY_URL":    s.url,
		"MEM0_API_KEY":    apiKey,
		"OPENAI_API_KEY":  "sk-client-key",
		"OPENAI_BASE_URL": s.url + "/v1",
		"MEM0_TELEMETRY":  "false",
		"MEM0_DIR":        t.TempDir(),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// learn teaches the sidecar a fact through the chat route, as an app's
// user would say it, and waits until the memory API shows it.
func (s *sidecar) learn(user, fact string) {
	s.t.Helper()
	code, body := s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`+fact+`"}]}`,
		map[string]string{"X-Memory-User-Id": user})
	if code != 200 {
		s.t.Fatalf("chat: %d %s", code, body)
	}
	var listed string
	if !waitFor(10*time.Second, func() bool {
		_, listed = s.do("POST", "/v3/memories/", `{"filters":{"user_id":"`+user+`"}}`, map[string]string{"Authorization": "Token " + apiKey})
		var page struct {
			Results []struct {
				Memory string `json:"memory"`
			} `json:"results"`
		}
		json.Unmarshal([]byte(listed), &page)
		return len(page.Results) == 1 && page.Results[0].Memory == fact
	}) {
		s.t.Fatalf("the chat turn of %s was not learned: %s", user, listed)
	}
}

var accessLine = regexp.MustCompile(`msg=request .*method=(\S+) path=(\S+)`)

// requests returns the requests the sidecar has logged, as "METHOD path".
func (s *sidecar) requests() []string {
	var out []string
	for _, m := range accessLine.FindAllStringSubmatch(s.logs.String(), -1) {
		out = append(out, m[1]+" "+m[2])
	}
	return out
}

// apiRequests returns the memory API requests the sidecar has logged.
func (s *sidecar) apiRequests() []string {
	var out []string
	for _, r := range s.requests() {
		if !strings.Contains(r, " /v1/chat/") && !strings.Contains(r, " /v1/responses") {
			out = append(out, r)
		}
	}
	return out
}

// upstreamSaw reports whether a chat request the upstream received holds
// every one of texts.
func (s *sidecar) upstreamSaw(texts ...string) bool {
	for _, r := range s.up.Requests() {
		all := r.Path == "/v1/chat/completions"
		for _, txt := range texts {
			all = all && strings.Contains(string(r.Body), txt)
		}
		if all {
			return true
		}
	}
	return false
}

// TestMem0SeedPython1 runs every snippet of the seed cookbook with the
// mem0ai Python SDK of the 1.0.x line it was written for, then checks that
// what the SDK wrote is what the chat route injects.
func TestMem0SeedPython1(t *testing.T) {
	testMem0Seed(t, mem0Python(t, "MEMPROXY_TEST_PYTHON_MEM0_1", "../.venv-mem0-1/bin/python", "1.0."))
}

// TestMem0SeedPythonNewest runs the seed with the newest mem0ai Python SDK:
// every snippet it allows unchanged, the six searches it refuses in its own
// form; then the refused ones as printed, checking that the SDK raises and
// that none of them reaches the sidecar.
func TestMem0SeedPythonNewest(t *testing.T) {
	py := mem0Python(t, "MEMPROXY_TEST_PYTHON", "../.venv-test/bin/python", "2.")
	s := testMem0Seed(t, py)
	before := len(s.apiRequests())
	runSDKScript(t, mem0Env(t, s), py, "../testdata/sdk/python/mem0_seed_refused.py")
	// Only the client's construction (the key check) reached the sidecar.
	// A request's line is logged as its handler returns, before net/http
	// ends the answer: once the script has exited, the log holds every
	// request it made. The key check's line is waited for all the same.
	var got []string
	waitFor(2*time.Second, func() bool {
		got = s.apiRequests()[before:]
		return len(got) > 0
	})
	if strings.Join(got, ",") != "GET /v1/ping/" {
		t.Errorf("while the SDK refused the seed's searches the memory API received %q, want only the key check", got)
	}
}

func testMem0Seed(t *testing.T, py string) *sidecar {
	s := startSidecar(t, nil)
	runSDKScript(t, mem0Env(t, s), py, "../testdata/sdk/python/mem0_seed.py")

	// The seed's own chat calls carried what the SDK searched for.
	if !s.upstreamSaw("Completed 5K run in 28 minutes - felt great!", "suggest the next workout") {
		t.Errorf("the model never received the seed's sarah_history")
	}
	if !s.upstreamSaw("I'm FitCoach - a supportive fitness coach who celebrates every achievement.", "Completed 5K run in 28 minutes") {
		t.Errorf("the model never received the seed's coaching_context")
	}
	if !s.upstreamSaw("I'm FitCoach - supportive, motivational, celebrates small wins", "Completed 8K run in 45 minutes", "No pain, no protein shake") {
		t.Errorf("the model never received the seed's full_context")
	}

	// The memories the SDK wrote are what the chat route injects: persona,
	// Sarah's profile and workout, the relationship; Mike gets none of hers.
	sarah := s.recallFor("sarah", "fitcoach_v1", "Completed 8K run in 45 minutes")
	for _, want := range []string{"<memproxy-memories>", "I'm FitCoach - supportive, motivational, celebrates small wins",
		"Completed 8K run in 45 minutes - new personal record!", "No pain, no protein shake", "Sarah's goal: Run half marathon by June."} {
		if !strings.Contains(sarah, want) {
			t.Errorf("Sarah's chat request lacks %q:\n%s", want, sarah)
		}
	}
	mike := s.recallFor("mike", "fitcoach_v2", "Mike's workout preferences")
	for _, want := range []string{"I provide concrete metrics and percentage improvements", "Mike's workout preferences and relationship with coach", "Bench press"} {
		if !strings.Contains(mike, want) {
			t.Errorf("Mike's chat request lacks %q:\n%s", want, mike)
		}
	}
	for _, leak := range []string{"8K", "protein shake", "half marathon", "groceries", "celebrates small wins"} {
		if strings.Contains(mike, leak) {
			t.Errorf("Mike's chat request to fitcoach_v2 carries %q", leak)
		}
	}
	return s
}

// TestMem0APIPython1 and TestMem0APIPythonNewest drive the rest of the API
// with both Python SDK lines, after a chat turn taught the sidecar a fact.
func TestMem0APIPython1(t *testing.T) {
	testMem0API(t, mem0Python(t, "MEMPROXY_TEST_PYTHON_MEM0_1", "../.venv-mem0-1/bin/python", "1.0."))
}

func TestMem0APIPythonNewest(t *testing.T) {
	testMem0API(t, mem0Python(t, "MEMPROXY_TEST_PYTHON", "../.venv-test/bin/python", "2."))
}

func testMem0API(t *testing.T, py string) {
	s := startSidecar(t, nil)
	const fact = "I run along the river every morning."
	s.learn("lena", fact)
	runSDKScript(t, mem0Env(t, s, "LEARNED_USER", "lena", "LEARNED_FACT", fact), py, "../testdata/sdk/python/mem0_api.py")
	// reset() deleted everything, the learned memory included.
	s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Where do I run?"}]}`,
		map[string]string{"X-Memory-User-Id": "lena", "X-Memory-Mode": "read"})
	if r, _ := s.up.Last("/v1/chat/completions"); strings.Contains(string(r.Body), "river every morning") {
		t.Errorf("after reset the chat route still recalls Lena's memory: %s", r.Body)
	}
}

// TestMem0NodeSDK drives the memory API with the mem0ai Node SDK.
func TestMem0NodeSDK(t *testing.T) {
	sdkTool(t, "../testdata/sdk/node/node_modules/mem0ai/package.json", "the Node mem0ai package")
	node := sdkTool(t, "node", "Node.js")
	s := startSidecar(t, nil)
	const fact = "I cycle to the office on Fridays."
	s.learn("ines", fact)
	runSDKScript(t, mem0Env(t, s, "LEARNED_USER", "ines", "LEARNED_FACT", fact), node, "../testdata/sdk/node/mem0_sdk.mjs")
	for _, r := range s.requests() {
		if strings.HasPrefix(r, "POST /v3/memories/search/") || strings.HasPrefix(r, "POST /v3/memories/add/") {
			return
		}
	}
	t.Errorf("the Node SDK did not use the v3 endpoints: %v", s.requests())
}
