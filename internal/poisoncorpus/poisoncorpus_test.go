package poisoncorpus

import "testing"

func TestCorporaAreLargeAndDistinct(t *testing.T) {
	a, o := Attacks(), Ordinary()
	if len(a) < 200 || len(o) < 500 {
		t.Fatalf("%d attempts and %d ordinary messages, want at least 200 and 500", len(a), len(o))
	}
	seen := map[string]bool{}
	for _, s := range append(a, o...) {
		if seen[s] {
			t.Errorf("twice in the corpora: %q", s)
		}
		seen[s] = true
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`a\nb`: "a\nb", `\u200bx`: "\u200bx", `\U000E0041`: "\U000E0041", `\q`: `\q`, `end\`: `end\`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
