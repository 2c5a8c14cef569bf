package injector

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readCorpus reads one message a line from testdata/poison, skipping
// blank lines and # comments, with escapes unescaped.
func readCorpus(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "poison", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, unescape(line))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// unescape turns the corpus's \n, \t, \uXXXX and \UXXXXXXXX escapes into
// characters.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case 'n':
			b.WriteByte('\n')
			i++
		case 't':
			b.WriteByte('\t')
			i++
		case 'u', 'U':
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 1 + n
					continue
				}
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// TestPoisoningCorpus runs the filter over a corpus of injection attempts
// (several languages and obfuscations) and one of ordinary messages,
// many of them in the vocabulary of attacks, and prints its figures. The
// goals: at least 95 % of attempts caught, at most 2 % of ordinary
// messages lost.
func TestPoisoningCorpus(t *testing.T) {
	attacks := readCorpus(t, "attacks.txt")
	ordinary := readCorpus(t, "ordinary.txt")
	if len(attacks) < 200 || len(ordinary) < 500 {
		t.Fatalf("corpus too small: %d attempts, %d ordinary", len(attacks), len(ordinary))
	}
	var missed, lost []string
	for _, s := range attacks {
		if !Suspicious(s) {
			missed = append(missed, s)
		}
	}
	for _, s := range ordinary {
		if Suspicious(s) {
			lost = append(lost, s)
		}
	}
	caught := 1 - float64(len(missed))/float64(len(attacks))
	lostShare := float64(len(lost)) / float64(len(ordinary))
	t.Logf("poisoning corpus: %d of %d attempts caught (%.1f %%); %d of %d ordinary messages lost (%.1f %%)",
		len(attacks)-len(missed), len(attacks), 100*caught, len(lost), len(ordinary), 100*lostShare)
	for _, s := range missed {
		t.Logf("missed: %q", s)
	}
	for _, s := range lost {
		t.Logf("lost:   %q", s)
	}
	if caught < 0.95 {
		t.Errorf("caught %.1f %% of the attempts, want at least 95 %%", 100*caught)
	}
	if lostShare > 0.02 {
		t.Errorf("lost %.1f %% of the ordinary messages, want at most 2 %%", 100*lostShare)
	}
}
