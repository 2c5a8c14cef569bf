package lexical

import (
	"slices"
	"testing"
)

func TestTerms(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"I'm running a 5K race on Sunday!", []string{"run", "5k", "race", "sunday"}},
		{"Caroline's researching adoption agencies", []string{"carolin", "research", "adopt", "agenc"}},
		// NFKC folds the full-width letters; case folding the sharp s.
		{"ＲＵＮＮＩＮＧ Straße", []string{"run", "strass"}},
		{"She RUNS; he ran.", []string{"run", "ran"}},
		{"我喜欢机器学习", []string{"我喜", "喜欢", "欢机", "机器", "器学", "学习"}},
		{"東京 in May", []string{"東京", "may"}},
		{"猫", []string{"猫"}},
		{"“quoted” 'words'", []string{"quot", "word"}},
		{"what are you doing?", nil},
		{"", nil},
	} {
		if got := Terms(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Terms(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestStopWordsAreWhatTermsDrops(t *testing.T) {
	for _, w := range StopWords() {
		if got := Terms(w); len(got) != 0 {
			t.Errorf("Terms(%q) = %q, want nothing: it is a stop word", w, got)
		}
	}
}
