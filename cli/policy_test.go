package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// policyCmd runs `memproxy policy args...` and returns its exit code, stdout
// and stderr.
func policyCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	code := Main(context.Background(), append([]string{"policy"}, args...), environ, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPolicyCheck(t *testing.T) {
	files, _ := filepath.Glob("../examples/policies/*.yaml")
	if len(files) < 4 {
		t.Fatalf("example policies: %v", files)
	}
	for _, f := range files {
		code, out, errOut := policyCmd(t, nil, "check", f)
		if code != 0 || !strings.Contains(out, "ok") {
			t.Errorf("check %s: %d %s %s", f, code, out, errOut)
		}
	}
	code, out, _ := policyCmd(t, nil, "check", "../examples/policies/versioned-agents.yaml")
	if code != 0 || !strings.Contains(out, "fitcoach_v2") || !strings.Contains(out, "relationship off") || !strings.Contains(out, "recency") {
		t.Errorf("summary of versioned agents:\n%s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("agents:\n  - match: x\n    recall: {order: sideways}\n"), 0o600)
	if code, _, errOut := policyCmd(t, nil, "check", bad); code != 1 || !strings.Contains(errOut, "line 3") {
		t.Errorf("check of a bad file: %d %s", code, errOut)
	}
	for _, args := range [][]string{nil, {"check"}, {"frobnicate"}, {"explain"}} {
		if code, _, _ := policyCmd(t, nil, args...); code != 2 {
			t.Errorf("policy %v: exit %d, want 2 (usage)", args, code)
		}
	}
}

// TestPolicyExplainViaRefusesFile: a running sidecar explains with the
// policy file it was started with, so -file beside -via would be silently
// ignored. The pair is refused before anything is asked, saying why and
// what to do instead; -via alone still asks the sidecar.
func TestPolicyExplainViaRefusesFile(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"agent_id":"fitcoach_v1"}`))
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "policies.yaml")
	os.WriteFile(file, []byte("agents:\n  - match: fitcoach_*\n    recall: {order: recency}\n"), 0o600)

	for _, args := range [][]string{
		{"explain", "-via", srv.URL, "-key", "k", "-file", file, "-agent", "fitcoach_v1"},
		{"explain", "-file", file, "-agent", "fitcoach_v1", "-via", srv.URL, "-key", "k"},
		{"explain", "-via", srv.URL, "-key", "k", "-file=", "-agent", "fitcoach_v1"},
	} {
		code, out, errOut := policyCmd(t, nil, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "-file and -via") || !strings.Contains(errOut, "MEMPROXY_POLICY_FILE") {
			t.Errorf("policy %v: exit %d, stdout %q, stderr %q; want exit 2 and why on stderr", args, code, out, errOut)
		}
	}
	if asked.Load() != 0 {
		t.Errorf("the sidecar was asked %d times despite the refused flags", asked.Load())
	}
	if code, out, errOut := policyCmd(t, nil, "explain", "-via", srv.URL, "-key", "k", "-agent", "fitcoach_v1"); code != 0 || !strings.Contains(out, "fitcoach_v1") || asked.Load() != 1 {
		t.Errorf("-via alone: exit %d, stdout %q, stderr %q, asked %d", code, out, errOut, asked.Load())
	}
}
