package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/cli"
)

// policyCmd runs `memproxy policy args...` as the binary does, with env as
// its environment, and returns its exit code, stdout and stderr.
func policyCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	code := cli.Main(context.Background(), append([]string{"policy"}, args...), environ, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestPolicyExplain explains from the store directly (the sidecar stopped)
// and through a running sidecar.
func TestPolicyExplain(t *testing.T) {
	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v1", "I am FitCoach.")
	code, body := s.do("POST", "/v1/memories/", `{"messages":"Sarah runs 5K on Sundays.","user_id":"sarah","infer":false}`, map[string]string{"Authorization": "Token " + apiKey})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	check := func(out string) {
		t.Helper()
		var e struct {
			Rule     string
			Recalled map[string][]struct{ Memory string }
			Block    string
			Would    []struct{ Memory, Category string } `json:"would_store"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if e.Rule != "fitcoach_*" || len(e.Recalled["persona"]) != 1 || len(e.Recalled["user"]) != 1 || !strings.Contains(e.Block, "5K on Sundays") {
			t.Errorf("explanation: %s", out)
		}
		if len(e.Would) != 1 || e.Would[0].Memory != "My email is [EMAIL] and I ran 10K today." || e.Would[0].Category != "sports" {
			t.Errorf("would store: %+v", e.Would)
		}
	}
	args := []string{"explain", "-agent", "fitcoach_v1", "-user", "sarah", "-query", "running", "-message", "My email is jane@example.com and I ran 10K today.",
		"-file", "../examples/policies/fitcoach.yaml"}

	// -via uses the sidecar's own policies, so -file cannot go with it:
	// refused, saying why, rather than silently ignored.
	if code, _, errOut := policyCmd(t, nil, append(args, "-via", s.url, "-key", apiKey)...); code != 2 || !strings.Contains(errOut, "-file and -via") {
		t.Errorf("explain -via with -file: %d %q, want exit 2 saying the pair is refused", code, errOut)
	}
	withoutFile := args[: len(args)-2 : len(args)-2]
	code, out, errOut := policyCmd(t, nil, append(withoutFile, "-via", s.url, "-key", apiKey)...)
	if code != 0 {
		t.Fatalf("explain -via: %d %s", code, errOut)
	}
	// This sidecar has no policy file, so ask for the rule by running
	// explain locally below.
	if !strings.Contains(out, `"rule": "default"`) || !strings.Contains(out, "5K on Sundays") {
		t.Errorf("explain -via: %s", out)
	}
	// The running sidecar locks the embedded store: a clear hint.
	if _, _, errOut := policyCmd(t, s.env, args...); !strings.Contains(errOut, "-via") {
		t.Errorf("explain against a locked store: %q, want a hint to use -via", errOut)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = policyCmd(t, s.env, args...)
	if code != 0 {
		t.Fatalf("explain: %d %s", code, errOut)
	}
	check(out)
}
