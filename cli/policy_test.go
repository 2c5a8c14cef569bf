package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
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
