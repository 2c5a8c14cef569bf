package config

import (
	"slices"
	"strings"
	"testing"
)

func TestGetenv(t *testing.T) {
	get := Getenv([]string{"A=1", "B=x=y", "A=2", "NOVALUE", "C="})
	for name, want := range map[string]string{"A": "2", "B": "x=y", "C": "", "NOVALUE": "", "D": ""} {
		if got := get(name); got != want {
			t.Errorf("Getenv(...)(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestUnknownVariables(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/root", "OPENAI_API_KEY=sk-x", // not ours
		"MEMPROXY_LISTEN=127.0.0.1:0", "MEMPROXY_CONFIG=/etc/memproxy.yaml", "MEMPROXY_API_KEYS=k", // read
		"MEMPROXY_API_KEY=k",                                               // read: the alias of MEMPROXY_API_KEYS
		"MEMPROXY_URL=http://127.0.0.1",                                    // the client examples' variable
		"MEMPROXY_PPROF_LISTEN=:6060",                                      // read by pprof builds
		"MEMPROXY_TEST_MILVUS_LITE=127.0.0.1:1", "MEMPROXY_REQUIRE_SDKS=1", // the test suite's
		"MEMPROXY_UPSTREAM_ULR=http://x/v1",
		"MEMPROXY_CLIENT_KEY=k",
		"MEMPROXY_EMBEDING_MODEL=m",
		"memproxy_listen=:1",
		"MEMPROXY_LISTEN_ADDR=:1",
		"MEMPROXY_OPENAI_API_KEY=sk-x",
		"MEMPROXY_FROBNICATE=1",
		"MEMPROXY_=1",
	}
	got := map[string]string{}
	for _, u := range Unknown(environ) {
		got[u.Name] = u.Closest
		if !strings.HasPrefix(u.String(), u.Name+" is not a memproxy setting") {
			t.Errorf("%s: message %q", u.Name, u)
		}
		if u.Closest != "" && !strings.HasSuffix(u.String(), "did you mean "+u.Closest+"?") {
			t.Errorf("%s: message %q does not suggest %s", u.Name, u, u.Closest)
		}
	}
	want := map[string]string{
		"MEMPROXY_UPSTREAM_ULR":   "MEMPROXY_UPSTREAM_URL",
		"MEMPROXY_CLIENT_KEY":     "MEMPROXY_CLIENT_KEYS",
		"MEMPROXY_EMBEDING_MODEL": "MEMPROXY_EMBEDDING_MODEL",
		"memproxy_listen":         "MEMPROXY_LISTEN",
		"MEMPROXY_LISTEN_ADDR":    "MEMPROXY_LISTEN",
		"MEMPROXY_OPENAI_API_KEY": "MEMPROXY_UPSTREAM_API_KEY",
		"MEMPROXY_FROBNICATE":     "",
		"MEMPROXY_":               "",
	}
	for name, closest := range want {
		c, ok := got[name]
		if !ok {
			t.Errorf("%s: not warned about", name)
		} else if c != closest {
			t.Errorf("%s: closest %q, want %q", name, c, closest)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: warned about, but memproxy or its clients and tests read it", name)
		}
	}
	// Every name memproxy reads is one it knows.
	var all []string
	for _, name := range Variables() {
		all = append(all, name+"=x")
	}
	if u := Unknown(all); len(u) != 0 {
		t.Errorf("Unknown(Variables()) = %v", u)
	}
	if !slices.Contains(Variables(), "MEMPROXY_CONFIG") || !slices.Contains(Variables(), "MEMPROXY_API_KEY") {
		t.Errorf("Variables() = %v", Variables())
	}
}

// TestSingularAPIKey: MEMPROXY_API_KEY, the name a client of the memory API
// uses in the README, set on its own opens the memory API with its key
// rather than leaving it closed; set beside MEMPROXY_API_KEYS it must agree.
func TestSingularAPIKey(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		keys    string // want, joined with |
		errWith string // or an error with this
	}{
		{env: map[string]string{"MEMPROXY_API_KEY": "dev-key"}, keys: "dev-key"},
		{env: map[string]string{"MEMPROXY_API_KEY": " dev-key "}, keys: "dev-key"},
		{env: map[string]string{"MEMPROXY_API_KEY": "dev-key", "MEMPROXY_API_KEYS": "dev-key,ops-key"}, keys: "dev-key|ops-key"},
		{env: map[string]string{"MEMPROXY_API_KEYS": "a,b"}, keys: "a|b"},
		{env: map[string]string{"MEMPROXY_API_KEY": "old-key", "MEMPROXY_API_KEYS": "new-key"}, errWith: "MEMPROXY_API_KEY"},
		{env: map[string]string{"MEMPROXY_API_KEY": "bad key"}, errWith: "api_keys"},
	} {
		c, err := Load(env(tc.env))
		if tc.errWith != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errWith) {
				t.Errorf("Load(%v) error = %v, want one naming %s", tc.env, err, tc.errWith)
			}
			if err != nil && (strings.Contains(err.Error(), "old-key") || strings.Contains(err.Error(), "new-key")) {
				t.Errorf("Load(%v) error %q shows a key", tc.env, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Load(%v): %v", tc.env, err)
			continue
		}
		if got := strings.Join(c.APIKeys, "|"); got != tc.keys {
			t.Errorf("Load(%v): api keys %q, want %q", tc.env, got, tc.keys)
		}
	}
}
