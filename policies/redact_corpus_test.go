package policies

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/internal/piicorpus"
)

// TestCorpusRedaction measures the default redaction on both corpora:
// every piece of personal data redacted, at most 1% of the look-alikes
// (numbers and ids that are not personal data) changed.
func TestCorpusRedaction(t *testing.T) {
	r, err := NewRedactor(RedactConfig{Types: RedactTypes})
	if err != nil {
		t.Fatal(err)
	}
	redacted := 0
	for _, c := range piicorpus.Cases {
		got := r.Redact(c.Text)
		if strings.Contains(got, c.Secret) || !strings.Contains(got, c.Placeholder) {
			t.Errorf("Redact(%q) = %q, want %s in place of %q", c.Text, got, c.Placeholder, c.Secret)
			continue
		}
		redacted++
	}
	changed := 0
	for _, s := range piicorpus.LookAlikes {
		if got := r.Redact(s); got != s {
			changed++
			t.Logf("look-alike changed: %q -> %q", s, got)
		}
	}
	n := len(piicorpus.LookAlikes)
	t.Logf("%-12s %5s %8s %7s", "corpus", "cases", "counted", "share")
	t.Logf("%-12s %5d %8d %6.1f%% redacted", "pii", len(piicorpus.Cases), redacted, 100*float64(redacted)/float64(len(piicorpus.Cases)))
	t.Logf("%-12s %5d %8d %6.1f%% changed", "look-alikes", n, changed, 100*float64(changed)/float64(n))
	if changed*100 > n {
		t.Errorf("%d of %d look-alikes changed, want at most 1%%", changed, n)
	}
}
