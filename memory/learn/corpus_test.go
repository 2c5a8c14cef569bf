package learn

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/policies"
)

// labelled is one line of a labelled corpus in testdata: label TAB text.
type labelled struct{ label, text string }

func readCorpus(t *testing.T, name string) []labelled {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, text, ok := strings.Cut(line, "\t")
		if !ok || text == "" {
			t.Fatalf("%s:%d: want label<TAB>text", name, n)
		}
		out = append(out, labelled{label, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCorpusHygiene measures raw extraction's "learn" decision (a message
// yields a fact) against testdata/hygiene.tsv: questions, requests and
// commands to the assistant, greetings, acknowledgements and reactions are
// never learned; statements about the user are.
func TestCorpusHygiene(t *testing.T) {
	for _, c := range []struct {
		file      string
		min       int
		threshold float64
	}{
		// The held-out corpus was not used to tune the rules: a looser bar.
		{"hygiene.tsv", 200, 0.95},
		{"hygiene-heldout.tsv", 40, 0.85},
	} {
		t.Run(c.file, func(t *testing.T) { hygieneCorpus(t, c.file, c.min, c.threshold) })
	}
}

func hygieneCorpus(t *testing.T, file string, minLen int, threshold float64) {
	corpus := readCorpus(t, file)
	var tp, fp, fn, tn int
	for _, c := range corpus {
		if c.label != "learn" && c.label != "skip" {
			t.Fatalf("label %q: want learn or skip", c.label)
		}
		learned := RawFact(c.text, 8) != ""
		switch {
		case learned && c.label == "learn":
			tp++
		case learned:
			fp++
			t.Logf("learned, should not be: %q", c.text)
		case c.label == "learn":
			fn++
			t.Logf("not learned, should be: %q", c.text)
		default:
			tn++
		}
	}
	precision := float64(tp) / float64(max(tp+fp, 1))
	recall := float64(tp) / float64(max(tp+fn, 1))
	t.Logf("%s: %d messages (%d learn, %d skip)", file, len(corpus), tp+fn, fp+tn)
	t.Logf("| learned | labelled learn | labelled skip |")
	t.Logf("| yes     | %14d | %13d |", tp, fp)
	t.Logf("| no      | %14d | %13d |", fn, tn)
	t.Logf("| precision %.3f | recall %.3f |", precision, recall)
	if len(corpus) < minLen {
		t.Errorf("corpus has %d messages, want at least %d", len(corpus), minLen)
	}
	if precision < threshold || recall < threshold {
		t.Errorf("precision %.3f, recall %.3f: want both at least %.2f", precision, recall, threshold)
	}
}

// TestCorpusCategories measures the raw mode's categories against
// testdata/categories.tsv, half of it health, injuries and medical matters.
func TestCorpusCategories(t *testing.T) {
	corpus := readCorpus(t, "categories.tsv")
	right := map[string]int{}
	total := map[string]int{}
	var order []string
	for _, c := range corpus {
		if total[c.label] == 0 {
			order = append(order, c.label)
		}
		total[c.label]++
		if got := Classify(c.text); got == c.label {
			right[c.label]++
		} else {
			t.Logf("%q: %s, want %s", c.text, got, c.label)
		}
	}
	all := 0
	t.Logf("| category | right | of | accuracy |")
	for _, cat := range order {
		all += right[cat]
		t.Logf("| %-20s | %3d | %3d | %.3f |", cat, right[cat], total[cat], float64(right[cat])/float64(total[cat]))
	}
	acc := float64(all) / float64(len(corpus))
	t.Logf("| all | %d | %d | %.3f |", all, len(corpus), acc)
	if health := float64(right["health"]) / float64(max(total["health"], 1)); health < 0.9 || acc < 0.9 {
		t.Errorf("accuracy %.3f (health %.3f): want both at least 0.9", acc, health)
	}
}

// TestCorpusScope measures ClassifyScope against testdata/scope.tsv: facts
// about the user become user memories, facts about the user's relationship
// with the agent relationship memories. The baseline is what learning did
// before scopes: every fact from a chat with an agent a relationship memory.
func TestCorpusScope(t *testing.T) {
	for _, c := range []struct {
		file      string
		min       int
		threshold float64
	}{
		// The held-out corpus was not used to tune the rules: a looser bar.
		{"scope.tsv", 100, 0.9},
		{"scope-heldout.tsv", 20, 0.75},
	} {
		t.Run(c.file, func(t *testing.T) { scopeCorpus(t, c.file, c.min, c.threshold) })
	}
}

func scopeCorpus(t *testing.T, file string, minLen int, threshold float64) {
	corpus := readCorpus(t, file)
	right := map[string]int{}
	total := map[string]int{}
	baseline := 0
	for _, c := range corpus {
		if c.label != policies.ScopeUser && c.label != policies.ScopeRelationship {
			t.Fatalf("label %q: want user or relationship", c.label)
		}
		total[c.label]++
		if c.label == policies.ScopeRelationship {
			baseline++
		}
		if got := ClassifyScope(c.text); got == c.label {
			right[c.label]++
		} else {
			t.Logf("%q: %s, want %s", c.text, got, c.label)
		}
	}
	acc := float64(right["user"]+right["relationship"]) / float64(len(corpus))
	t.Logf("%s: %d facts", file, len(corpus))
	t.Logf("| scope | right | of | accuracy |")
	for _, s := range []string{policies.ScopeUser, policies.ScopeRelationship} {
		t.Logf("| %-12s | %3d | %3d | %.3f |", s, right[s], total[s], float64(right[s])/float64(total[s]))
	}
	t.Logf("| all          | %3d | %3d | %.3f | (everything a relationship: %.3f)", right["user"]+right["relationship"], len(corpus), acc,
		float64(baseline)/float64(len(corpus)))
	if len(corpus) < minLen {
		t.Errorf("corpus has %d facts, want at least %d", len(corpus), minLen)
	}
	if acc < threshold {
		t.Errorf("accuracy %.3f, want at least %.2f", acc, threshold)
	}
}
