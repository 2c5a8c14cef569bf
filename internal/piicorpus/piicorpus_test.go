package piicorpus

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSecretsAreDistinctive: tests search whole files for the secrets, so
// a short one (a four-digit run) would be found by chance in a timestamp.
func TestSecretsAreDistinctive(t *testing.T) {
	for _, c := range Cases {
		if utf8.RuneCountInString(c.Secret) < 8 {
			t.Errorf("secret %q of %q: want at least 8 characters", c.Secret, c.Text)
		}
		if !strings.Contains(c.Text, c.Secret) && !strings.Contains(c.Text, "ＳＳＮ") && !strings.Contains(c.Text, "full-width") {
			t.Errorf("secret %q is not in %q", c.Secret, c.Text)
		}
	}
}
