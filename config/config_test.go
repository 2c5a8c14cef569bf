package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Store != "embedded" || c.Embedder != "static" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if c.Embedding.URL != c.Upstream.URL {
		t.Errorf("embedding URL %q should default to the upstream URL %q", c.Embedding.URL, c.Upstream.URL)
	}
	if time.Duration(c.Recall.Timeout) != 150*time.Millisecond {
		t.Errorf("recall timeout = %v", time.Duration(c.Recall.Timeout))
	}
}

func TestFileThenEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "memproxy.yaml")
	yml := `
listen: 0.0.0.0:9000
upstream:
  url: http://localhost:11434/v1
  api_key: from-file
store: embedded
data_dir: /var/lib/memproxy
embedder: openai
embedding:
  model: nomic-embed-text
  dimensions: 768
api_keys: [k1, k2]
identity:
  user_headers: [X-Memory-User-Id, x-sm-user-id]
  from_body: true
recall:
  timeout: 250ms
  breaker:
    min_recalls: 40
  persona_cache:
    max_agents: 50
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{
		"MEMPROXY_CONFIG":            path,
		"MEMPROXY_UPSTREAM_API_KEY":  "from-env",
		"MEMPROXY_API_KEYS":          " a , b ,",
		"MEMPROXY_RECALL_TIMEOUT":    "90ms",
		"MEMPROXY_PERSONA_CACHE_TTL": "2s",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen (file)", c.Listen, "0.0.0.0:9000"},
		{"upstream key (env over file)", c.Upstream.APIKey, "from-env"},
		{"embedding url (defaults to upstream)", c.Embedding.URL, "http://localhost:11434/v1"},
		{"embedding key (defaults to upstream)", c.Embedding.APIKey, "from-env"},
		{"dimensions", c.Embedding.Dimensions, 768},
		{"api keys (env list)", strings.Join(c.APIKeys, "|"), "a|b"},
		{"user headers", strings.Join(c.Identity.UserHeaders, "|"), "X-Memory-User-Id|x-sm-user-id"},
		{"agent headers (default kept)", strings.Join(c.Identity.AgentHeaders, "|"), "X-Memory-Agent-Id"},
		{"from body", c.Identity.FromBody, true},
		{"recall timeout (env over file)", time.Duration(c.Recall.Timeout), 90 * time.Millisecond},
		{"breaker min recalls (file)", c.Recall.Breaker.MinRecalls, 40},
		{"breaker window (default kept)", time.Duration(c.Recall.Breaker.Window), 10 * time.Second},
		{"breaker on by default", c.Recall.Breaker.Enabled, true},
		{"persona cache ttl (env)", time.Duration(c.Recall.PersonaCache.TTL), 2 * time.Second},
		{"persona cache agents (file)", c.Recall.PersonaCache.MaxAgents, 50},
		{"persona cache memories (default kept)", c.Recall.PersonaCache.MaxMemories, 200},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestInvalidSettingsNameTheSetting(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string // must appear in the error
	}{
		{map[string]string{"MEMPROXY_LISTEN": "8080"}, "MEMPROXY_LISTEN"},
		{map[string]string{"MEMPROXY_PERSONA_CACHE_TTL": "2h"}, "recall.persona_cache.ttl"},
		{map[string]string{"MEMPROXY_PERSONA_CACHE_MAX_AGENTS": "0"}, "recall.persona_cache.max_agents"},
		{map[string]string{"MEMPROXY_PERSONA_CACHE_MAX_MEMORIES": "-1"}, "recall.persona_cache.max_memories"},
		{map[string]string{"MEMPROXY_UPSTREAM_URL": "api.openai.com"}, "MEMPROXY_UPSTREAM_URL"},
		{map[string]string{"MEMPROXY_UPSTREAM_URL": "ftp://x/v1"}, "upstream.url"},
		{map[string]string{"MEMPROXY_STORE": "redis"}, "MEMPROXY_STORE"},
		{map[string]string{"MEMPROXY_STORE": "milvus", "MEMPROXY_MILVUS_ADDRESS": "nohost"}, "MEMPROXY_MILVUS_ADDRESS"},
		{map[string]string{"MEMPROXY_EMBEDDER": "bert"}, "MEMPROXY_EMBEDDER"},
		{map[string]string{"MEMPROXY_EMBEDDER": "openai", "MEMPROXY_EMBEDDING_URL": "::"}, "MEMPROXY_EMBEDDING_URL"},
		{map[string]string{"MEMPROXY_EMBEDDING_DIMENSIONS": "many"}, "MEMPROXY_EMBEDDING_DIMENSIONS"},
		{map[string]string{"MEMPROXY_EMBEDDING_DIMENSIONS": "-3"}, "MEMPROXY_EMBEDDING_DIMENSIONS"},
		{map[string]string{"MEMPROXY_API_KEYS": "good,bad key"}, "MEMPROXY_API_KEYS"},
		{map[string]string{"MEMPROXY_USER_ID_HEADERS": "X User"}, "MEMPROXY_USER_ID_HEADERS"},
		{map[string]string{"MEMPROXY_USER_ID_HEADERS": "authorization"}, "MEMPROXY_USER_ID_HEADERS"},
		{map[string]string{"MEMPROXY_AGENT_ID_HEADERS": "x-memory-user-id"}, "MEMPROXY_AGENT_ID_HEADERS"},
		{map[string]string{"MEMPROXY_RECALL_TIMEOUT": "fast"}, "MEMPROXY_RECALL_TIMEOUT"},
		{map[string]string{"MEMPROXY_RECALL_TIMEOUT": "0s"}, "MEMPROXY_RECALL_TIMEOUT"},
		{map[string]string{"MEMPROXY_RECALL_BREAKER_FAILURE_RATIO": "1.5"}, "MEMPROXY_RECALL_BREAKER_FAILURE_RATIO"},
		{map[string]string{"MEMPROXY_RECALL_BREAKER_MIN_RECALLS": "0"}, "MEMPROXY_RECALL_BREAKER_MIN_RECALLS"},
		{map[string]string{"MEMPROXY_RECALL_BREAKER_WINDOW": "10ms"}, "MEMPROXY_RECALL_BREAKER_WINDOW"},
		{map[string]string{"MEMPROXY_RECALL_BREAKER_COOL_DOWN": "soon"}, "MEMPROXY_RECALL_BREAKER_COOL_DOWN"},
		{map[string]string{"MEMPROXY_LEARN": "maybe"}, "MEMPROXY_LEARN"},
		{map[string]string{"MEMPROXY_LEARN_MODE": "magic"}, "MEMPROXY_LEARN_MODE"},
		{map[string]string{"MEMPROXY_LEARN_WORKERS": "0"}, "MEMPROXY_LEARN_WORKERS"},
		{map[string]string{"MEMPROXY_LEARN_DUP_THRESHOLD": "1.5"}, "MEMPROXY_LEARN_DUP_THRESHOLD"},
		{map[string]string{"MEMPROXY_LEARN_DUP_THRESHOLD": "high"}, "MEMPROXY_LEARN_DUP_THRESHOLD"},
		{map[string]string{"MEMPROXY_LEARN_DEBOUNCE": "-1s"}, "MEMPROXY_LEARN_DEBOUNCE"},
		{map[string]string{"MEMPROXY_LEARN_MODE": "llm", "MEMPROXY_EXTRACTION_URL": "nope"}, "MEMPROXY_EXTRACTION_URL"},
		{map[string]string{"MEMPROXY_MAX_BODY_BYTES": "0"}, "MEMPROXY_MAX_BODY_BYTES"},
		{map[string]string{"MEMPROXY_LOG_LEVEL": "loud"}, "MEMPROXY_LOG_LEVEL"},
		{map[string]string{"MEMPROXY_CONFIG": "/nonexistent/memproxy.yaml"}, "MEMPROXY_CONFIG"},
	}
	for _, tt := range tests {
		_, err := Load(env(tt.env))
		if err == nil {
			t.Errorf("Load(%v) succeeded, want an error naming %s", tt.env, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v) error %q does not name %s", tt.env, err, tt.want)
		}
	}
}

func TestBadFileNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ yml, want string }{
		{"listen: 127.0.0.1:1\nupstrem:\n  url: http://x\n", "line 2"},
		{"recall:\n  timeout: soon\n", "line 2"},
		{"api_keys: {a: 1}\n", "line 1"},
	} {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(tt.yml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(env(map[string]string{"MEMPROXY_CONFIG": path}))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%q) error = %v, want one naming %s and the file", tt.yml, err, tt.want)
		}
	}
}

func TestEveryEnvVariableIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("reading README: %v", err)
	}
	for _, name := range Variables() {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
	}
}
