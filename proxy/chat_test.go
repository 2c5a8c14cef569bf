package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/memproxy/memproxy/memory"
)

const (
	persona = "I'm FitCoach - supportive, motivational, celebrates small wins"
	goal    = "Sarah's goal: run a half marathon by June"
	joke    = "Inside joke with Sarah: 'No pain, no protein shake!'"
	mikePR  = "Mike benches 185 lbs for 3 sets of 10"
)

func fitcoach(h *harness) {
	h.Add(persona, memory.Scope{AgentID: "fitcoach_v1"}, nil)
	h.Add(goal, memory.Scope{UserID: "sarah"}, nil)
	h.Add(joke, memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1", "type": "relationship"})
	h.Add(mikePR, memory.Scope{UserID: "mike"}, nil)
}

// TestInjection proves the block lands where each request shape keeps its
// instructions, that nothing else in the body changes, and that identity
// headers never reach the upstream.
func TestInjection(t *testing.T) {
	tests := []struct {
		name, path, body string
		// where reads the instructions the block must start
		where func(body []byte) string
	}{
		{
			name: "string system message",
			path: "/v1/chat/completions",
			body: `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a coach."},{"role":"user","content":"Just finished my run!"}],"temperature":0.70,"x_unknown":{"keep":[1,2.50]}}`,
			where: func(b []byte) string {
				return gjson.GetBytes(b, "messages.0.content").String()
			},
		},
		{
			name: "content-part system message",
			path: "/v1/chat/completions",
			body: `{"model":"gpt-4o-mini","messages":[{"role":"system","content":[{"type":"text","text":"You are a coach."}]},{"role":"user","content":[{"type":"text","text":"Just finished my run!"}]}]}`,
			where: func(b []byte) string {
				return gjson.GetBytes(b, "messages.0.content.0.text").String()
			},
		},
		{
			name: "developer message",
			path: "/v1/chat/completions",
			body: `{"model":"o3-mini","messages":[{"role":"developer","content":"Answer briefly."},{"role":"user","content":"Just finished my run!"}]}`,
			where: func(b []byte) string {
				return gjson.GetBytes(b, "messages.0.content").String()
			},
		},
		{
			name: "no system message",
			path: "/v1/chat/completions",
			body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Just finished my run!"}],"stream":false}`,
			where: func(b []byte) string {
				if gjson.GetBytes(b, "messages.0.role").String() != "system" {
					return ""
				}
				return gjson.GetBytes(b, "messages.0.content").String()
			},
		},
		{
			name: "responses instructions",
			path: "/v1/responses",
			body: `{"model":"gpt-4o-mini","instructions":"You are a coach.","input":"Just finished my run!"}`,
			where: func(b []byte) string {
				return gjson.GetBytes(b, "instructions").String()
			},
		},
		{
			name: "responses without instructions",
			path: "/v1/responses",
			body: `{"model":"gpt-4o-mini","input":[{"role":"user","content":[{"type":"input_text","text":"Just finished my run!"}]}]}`,
			where: func(b []byte) string {
				return gjson.GetBytes(b, "instructions").String()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			fitcoach(h)
			hdr := with(ids("sarah", "fitcoach_v1"), "X-Memory-Run-Id", "run-1", "X-Memory-Mode", "read", "Authorization", "Bearer sk-client")
			resp, _ := h.Do("POST", tt.path, tt.body, hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get(HeaderStatus); got != "injected" {
				t.Errorf("%s = %q, want injected", HeaderStatus, got)
			}
			if got := resp.Header.Get(HeaderInjected); got != "3" {
				t.Errorf("%s = %q, want 3 (persona, goal, relationship)", HeaderInjected, got)
			}
			if st := resp.Header.Get("Server-Timing"); !strings.Contains(st, "memproxy-embed;dur=") ||
				!strings.Contains(st, "memproxy-search;dur=") || !strings.Contains(st, "memproxy-inject;dur=") {
				t.Errorf("Server-Timing = %q, want the embed, search and inject stages", st)
			}
			got := h.Received(tt.path)
			inserted, ok := oneInsertion([]byte(tt.body), got.Body)
			if !ok {
				t.Fatalf("upstream body is not the client's with one insertion:\nsent %s\n got %s", tt.body, got.Body)
			}
			for _, want := range []string{persona, goal, joke, "<memproxy-memories>", "</memproxy-memories>"} {
				if !strings.Contains(inserted, want) {
					t.Errorf("the inserted block lacks %q:\n%s", want, inserted)
				}
			}
			if strings.Contains(inserted, mikePR) {
				t.Errorf("Sarah's request carries Mike's memory:\n%s", inserted)
			}
			if instr := tt.where(got.Body); !strings.HasPrefix(instr, "<memproxy-memories>") {
				t.Errorf("instructions do not start with the block: %q", instr)
			}
			for _, hname := range []string{"X-Memory-User-Id", "X-Memory-Agent-Id", "X-Memory-Run-Id", "X-Memory-Mode"} {
				if v := got.Header.Get(hname); v != "" {
					t.Errorf("upstream received %s: %q", hname, v)
				}
			}
			if got.Header.Get("Authorization") != "Bearer sk-client" {
				t.Errorf("upstream Authorization = %q, want the client's", got.Header.Get("Authorization"))
			}
		})
	}
}

// TestNoIdentityIsPassthrough proves that a request without identity
// reaches the upstream byte for byte, with the client's headers.
func TestNoIdentityIsPassthrough(t *testing.T) {
	h := newHarness(t)
	fitcoach(h)
	body := "{ \"model\" : \"gpt-4o-mini\",\n \"messages\": [{\"role\":\"user\",\"content\":\"caf\\u00e9\"}], \"n\": 1.0e0 }"
	resp, respBody := h.Do("POST", "/v1/chat/completions?trace=1", body, map[string]string{
		"Authorization": "Bearer sk-client", "OpenAI-Organization": "org-1", "X-Custom": "kept", "X-Memory-Mode": "on",
	})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, respBody)
	}
	got := h.Received("/v1/chat/completions")
	if string(got.Body) != body {
		t.Errorf("upstream body differs:\nsent %q\n got %q", body, got.Body)
	}
	if got.Query != "trace=1" {
		t.Errorf("query = %q", got.Query)
	}
	for k, v := range map[string]string{"Authorization": "Bearer sk-client", "Openai-Organization": "org-1", "X-Custom": "kept"} {
		if got.Header.Get(k) != v {
			t.Errorf("upstream header %s = %q, want %q", k, got.Header.Get(k), v)
		}
	}
	if got.Header.Get("X-Memory-Mode") != "" {
		t.Errorf("the mode header reached the upstream")
	}
	if resp.Header.Get(HeaderStatus) != "" {
		t.Errorf("passthrough response has %s = %q", HeaderStatus, resp.Header.Get(HeaderStatus))
	}
	if resp.Header.Get(HeaderRequestID) == "" {
		t.Errorf("no request id")
	}
}

// TestOtherPathsArePassedThrough covers the paths the sidecar does not own.
func TestOtherPathsArePassedThrough(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hello"}`},
		{"GET", "/v1/models", ""},
		{"POST", "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say hi"}`},
		{"GET", "/v1/chat/completions", ""},     // list stored completions: another method, same path
		{"POST", "/v1/chat/completions/", `{}`}, // trailing slash: not ours, not redirected
		{"DELETE", "/v1/responses/resp_1", ""},
	} {
		resp, _ := h.Do(tt.method, tt.path, tt.body, ids("sarah", "fitcoach_v1"))
		got := h.Received(strings.TrimSuffix(tt.path, "?"))
		if got.Method != tt.method || string(got.Body) != tt.body {
			t.Errorf("%s %s: upstream got %s with body %q", tt.method, tt.path, got.Method, got.Body)
		}
		if got.Header.Get("X-Memory-User-Id") != "" {
			t.Errorf("%s %s: identity header reached the upstream", tt.method, tt.path)
		}
		if resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusTemporaryRedirect {
			t.Errorf("%s %s: redirected", tt.method, tt.path)
		}
	}
}

func TestIdentityAliasesAndBodyFallback(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Identity = IdentityOptions{
			UserHeaders:  []string{"X-Memory-User-Id", "x-sm-user-id", "Helicone-User-Id"},
			AgentHeaders: []string{"X-Memory-Agent-Id"},
			FromBody:     true,
		}
	})
	fitcoach(h)
	body := `{"model":"m","messages":[{"role":"user","content":"Just finished my run!"}]}`
	for _, alias := range []string{"x-sm-user-id", "Helicone-User-Id"} {
		resp, _ := h.Do("POST", "/v1/chat/completions", body, map[string]string{alias: "sarah", "X-Memory-Mode": "read"})
		if resp.Header.Get(HeaderStatus) != "injected" {
			t.Errorf("%s: status %q, want injected", alias, resp.Header.Get(HeaderStatus))
		}
		got := h.Received("/v1/chat/completions")
		if got.Header.Get(alias) != "" {
			t.Errorf("alias %s reached the upstream", alias)
		}
		if !strings.Contains(string(got.Body), "half marathon") {
			t.Errorf("%s: Sarah's memory was not injected", alias)
		}
	}
	// The body's user field, when no header names one.
	resp, _ := h.Do("POST", "/v1/chat/completions", `{"model":"m","user":"sarah","messages":[{"role":"user","content":"hi there, how is it going"}]}`, map[string]string{"X-Memory-Mode": "read"})
	if resp.Header.Get(HeaderStatus) != "injected" {
		t.Errorf("body user: status %q, want injected", resp.Header.Get(HeaderStatus))
	}
	got := h.Received("/v1/chat/completions")
	if gjson.GetBytes(got.Body, "user").String() != "sarah" {
		t.Errorf("the body's user field must reach the upstream unchanged")
	}
}

func TestModes(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"I now run 10K every Sunday morning."}]}`
	tests := []struct {
		mode        string
		wantStatus  string
		wantInBody  bool // the memory block reached the upstream
		wantLearned bool
	}{
		{"on", "injected", true, true},
		{"", "injected", true, true},
		{"READ", "injected", true, false},
		{"write", "none", false, true},
		{"off", "off", false, false},
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			h := newHarness(t)
			fitcoach(h)
			hdr := ids("sarah", "fitcoach_v1")
			if tt.mode != "" {
				hdr["X-Memory-Mode"] = tt.mode
			}
			resp, _ := h.Do("POST", "/v1/chat/completions", body, hdr)
			if resp.Header.Get(HeaderStatus) != tt.wantStatus {
				t.Errorf("status = %q, want %q", resp.Header.Get(HeaderStatus), tt.wantStatus)
			}
			got := h.Received("/v1/chat/completions")
			if in := strings.Contains(string(got.Body), "memproxy-memories"); in != tt.wantInBody {
				t.Errorf("block in upstream body = %v, want %v", in, tt.wantInBody)
			}
			h.Settle()
			learned := h.Memories(memory.And(memory.UserFilter("sarah"), memory.Eq(memory.FieldText, "I now run 10K every Sunday morning.")))
			if (len(learned) == 1) != tt.wantLearned {
				t.Errorf("learned %d memories, want learned=%v", len(learned), tt.wantLearned)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	tests := []struct {
		name       string
		header     map[string]string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"unknown mode", with(ids("sarah", ""), "X-Memory-Mode", "sometimes"), `{"messages":[]}`, 400, "invalid_identity"},
		{"id with a tab", ids("sa\trah", ""), `{"messages":[]}`, 400, "invalid_identity"},
		{"id too long", ids(strings.Repeat("x", 300), ""), `{"messages":[]}`, 400, "invalid_identity"},
		{"id not UTF-8", ids("\xff\xfe", ""), `{"messages":[]}`, 400, "invalid_identity"},
		{"id with a C1 control", ids("sa\u0085rah", ""), `{"messages":[]}`, 400, "invalid_identity"},
		{"id with a line separator", ids("sa\u2028rah", ""), `{"messages":[]}`, 400, "invalid_identity"},
		{"body too large", ids("sarah", ""), `{"messages":[{"role":"user","content":"` + strings.Repeat("a", 2000) + `"}]}`, 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.Up.Requests())
			resp, body := h.Do("POST", "/v1/chat/completions", tt.body, tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			var e openAIError
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != tt.wantCode || !strings.HasPrefix(e.Error.Message, "memproxy: ") {
				t.Errorf("error body %s, want code %s in the OpenAI error shape", body, tt.wantCode)
			}
			if len(h.Up.Requests()) != before {
				t.Errorf("a refused request reached the upstream")
			}
		})
	}
}

// TestHostileIDsAreIsolated sends ids built to break a naive query
// language; each sees its own memories and nobody else's.
func TestHostileIDsAreIsolated(t *testing.T) {
	h := newHarness(t)
	hostile := []string{`x" or user_id != "`, `sarah"`, `sarah' OR '1'='1`, `*x`, `%`, `\`, `sarah\"`, "sàràh ☃", `user_id == "sarah"`}
	h.Add(goal, memory.Scope{UserID: "sarah"}, nil)
	for i, id := range hostile {
		h.Add("secret number "+string(rune('A'+i))+" of this hostile user", memory.Scope{UserID: id}, nil)
	}
	body := `{"model":"m","messages":[{"role":"user","content":"what do you know about me? secret number"}]}`
	for i, id := range hostile {
		resp, _ := h.Do("POST", "/v1/chat/completions", body, with(ids(id, ""), "X-Memory-Mode", "read"))
		if resp.StatusCode != 200 {
			t.Fatalf("id %q: status %d", id, resp.StatusCode)
		}
		got := string(h.Received("/v1/chat/completions").Body)
		if strings.Contains(got, "half marathon") {
			t.Errorf("id %q read Sarah's memory", id)
		}
		own := "secret number " + string(rune('A'+i)) + " "
		if !strings.Contains(got, own) {
			t.Errorf("id %q did not get its own memory", id)
		}
		for j := range hostile {
			if j != i && strings.Contains(got, "secret number "+string(rune('A'+j))+" ") {
				t.Errorf("id %q read the memory of id %q", id, hostile[j])
			}
		}
	}
}

func TestUpstreamAPIKeyReplacesAuthorization(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.UpstreamAPIKey = "sk-sidecar" })
	h.Do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, with(ids("sarah", ""), "Authorization", "Bearer sk-client"))
	if got := h.Received("/v1/chat/completions").Header.Get("Authorization"); got != "Bearer sk-sidecar" {
		t.Errorf("upstream Authorization = %q, want the configured key", got)
	}
	h.Do("GET", "/v1/models", "", map[string]string{"Authorization": "Bearer sk-client"})
	if got := h.Received("/v1/models").Header.Get("Authorization"); got != "Bearer sk-sidecar" {
		t.Errorf("passthrough Authorization = %q, want the configured key", got)
	}
}

func TestTarget(t *testing.T) {
	for _, tt := range []struct{ upstream, in, want string }{
		{"https://api.openai.com/v1", "/v1/chat/completions", "https://api.openai.com/v1/chat/completions"},
		{"https://api.openai.com/v1/", "/v1/models?limit=2", "https://api.openai.com/v1/models?limit=2"},
		{"http://localhost:11434/v1", "/v1/embeddings", "http://localhost:11434/v1/embeddings"},
		{"https://api.groq.com/openai/v1", "/v1/chat/completions", "https://api.groq.com/openai/v1/chat/completions"},
		{"https://example.com/openai/v1", "/openai/deployments/gpt/chat/completions?api-version=1", "https://example.com/openai/deployments/gpt/chat/completions?api-version=1"},
		{"https://api.openai.com/v1", "/v1", "https://api.openai.com/v1"},
		{"https://api.openai.com/v1", "/v10/x", "https://api.openai.com/v10/x"},
		{"https://api.openai.com/v1", "/v1/files/file%2Fx/content", "https://api.openai.com/v1/files/file%2Fx/content"},
	} {
		up, _ := http.NewRequest("GET", tt.upstream, nil)
		in, _ := http.NewRequest("GET", "http://sidecar"+tt.in, nil)
		s := &Server{opts: Options{Upstream: up.URL}}
		if got := s.target(in.URL).String(); got != tt.want {
			t.Errorf("target(%s, %s) = %s, want %s", tt.upstream, tt.in, got, tt.want)
		}
	}
}

// TestRecalledMemoriesAreNotLearnedAgain: the model echoes the recalled
// block in its answer, and the client sends that block back inside the
// user's next message; nothing new is learned.
func TestRecalledMemoriesAreNotLearnedAgain(t *testing.T) {
	h := newHarness(t)
	h.Add(goal, memory.Scope{UserID: "sarah"}, nil)
	h.Up.Hook = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.URL.Path != "/v1/chat/completions" {
			return false
		}
		// Echo the system message, block and all.
		sys := gjson.GetBytes(body, "messages.0.content").String()
		resp, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion", "model": "m", "choices": []any{
			map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": "Noted. " + sys}},
		}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
		return true
	}
	resp, answer := h.Do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"Just finished my run!"}]}`, ids("sarah", "fitcoach_v1"))
	if resp.Header.Get(HeaderStatus) != "injected" || !strings.Contains(answer, "memproxy-memories") {
		t.Fatalf("setup: the answer should echo the block: %s", answer)
	}
	echo := gjson.Get(answer, "choices.0.message.content").String()
	b, _ := json.Marshal(map[string]any{"model": "m", "messages": []any{
		map[string]any{"role": "assistant", "content": echo},
		map[string]any{"role": "user", "content": "As you said:\n" + echo},
	}})
	h.Do("POST", "/v1/chat/completions", string(b), ids("sarah", "fitcoach_v1"))
	h.Settle()
	goals := 0
	for _, m := range h.Memories(memory.UserFilter("sarah")) {
		if strings.Contains(m.Text, "memproxy") || strings.Contains(m.Text, "recalled") || strings.Contains(m.Text, "persona") {
			t.Errorf("learned text of the memory block: %q", m.Text)
		}
		if strings.Contains(m.Text, "half marathon") {
			goals++
		}
	}
	if goals != 1 {
		t.Errorf("the recalled goal is stored %d times, want once", goals)
	}
}

// TestUnreadableBodiesFailOpen: a body the sidecar cannot read reliably
// goes upstream untouched, the header says why, and nothing is learned.
func TestUnreadableBodiesFailOpen(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"model":"m","messages":[{"role":"user","content":"I keep bees."}]}`))
	zw.Close()
	tests := []struct {
		name, body, status string
		header             map[string]string
	}{
		{"malformed JSON", `{"messages":[`, "failed-open: request shape", nil},
		{"duplicate messages", `{"messages":[{"role":"user","content":"I keep bees."}],"messages":[{"role":"user","content":"I keep wasps."}]}`, "failed-open: request shape", nil},
		{"gzip body", gz.String(), "failed-open: request encoding", map[string]string{"Content-Encoding": "gzip"}},
		{"multipart", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n", "failed-open: request shape", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			fitcoach(h)
			hdr := ids("sarah", "fitcoach_v1")
			for k, v := range tt.header {
				hdr[k] = v
			}
			resp, _ := h.Do("POST", "/v1/chat/completions", tt.body, hdr)
			if got := resp.Header.Get(HeaderStatus); got != tt.status {
				t.Errorf("%s = %q, want %q", HeaderStatus, got, tt.status)
			}
			got := h.Received("/v1/chat/completions")
			if string(got.Body) != tt.body {
				t.Errorf("the upstream got %q, want the body untouched", got.Body)
			}
			if got.Header.Get("X-Memory-User-Id") != "" {
				t.Errorf("identity reached the upstream")
			}
			h.Settle()
			// fitcoach gave Sarah two memories; nothing more was learned.
			if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 2 {
				t.Errorf("learned from an unreadable body: %d memories, want 2", len(ms))
			}
		})
	}
}

func TestBadModeWithoutIdentityIsPassthrough(t *testing.T) {
	h := newHarness(t)
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	resp, _ := h.Do("POST", "/v1/chat/completions", body, map[string]string{"X-Memory-Mode": "bogus"})
	if resp.StatusCode != 200 || string(h.Received("/v1/chat/completions").Body) != body {
		t.Errorf("status %d: a request without identity must pass through whatever its mode header says", resp.StatusCode)
	}
}

// TestChunkedAndExpectRequests: a body that arrived chunked, or with
// Expect: 100-continue, is forwarded with its length and without Expect.
func TestChunkedAndExpectRequests(t *testing.T) {
	h := newHarness(t)
	var gotTE []string
	var gotCL int64
	var gotExpect string
	h.Up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		gotTE, gotCL, gotExpect = r.TransferEncoding, r.ContentLength, r.Header.Get("Expect")
		return false
	}
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.Srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Memory-User-Id: sarah\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || len(gotTE) != 0 || gotCL != int64(len(body)) || gotExpect != "" {
		t.Errorf("status %d; upstream saw Transfer-Encoding %v, Content-Length %d, Expect %q", resp.StatusCode, gotTE, gotCL, gotExpect)
	}
}

// TestRunScopedAgentMemoryIsNotPersona: a memory with an agent and a run
// (and no user) belongs to that run, not to every user of the agent.
func TestRunScopedAgentMemoryIsNotPersona(t *testing.T) {
	h := newHarness(t)
	h.Add(persona, memory.Scope{AgentID: "fitcoach_v1"}, nil)
	h.Add("Sarah private: my blood test showed anemia.", memory.Scope{AgentID: "fitcoach_v1", RunID: "sarah-session-1"}, nil)
	h.Add("App-wide agent note for one app only.", memory.Scope{AgentID: "fitcoach_v1", AppID: "other-app"}, nil)
	h.Do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"blood test note app"}]}`, ids("mike", "fitcoach_v1"))
	got := string(h.Received("/v1/chat/completions").Body)
	if !strings.Contains(got, "FitCoach") {
		t.Errorf("the persona is missing: %s", got)
	}
	for _, leak := range []string{"anemia", "App-wide"} {
		if strings.Contains(got, leak) {
			t.Errorf("Mike's request carries a run- or app-scoped memory %q as persona", leak)
		}
	}
}
