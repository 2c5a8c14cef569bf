package piicorpus

import (
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
	}
}
