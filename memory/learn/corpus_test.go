package learn

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	corpus := readCorpus(t, "hygiene.tsv")
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
	t.Logf("hygiene corpus: %d messages (%d learn, %d skip)", len(corpus), tp+fn, fp+tn)
	t.Logf("| learned | labelled learn | labelled skip |")
	t.Logf("| yes     | %14d | %13d |", tp, fp)
	t.Logf("| no      | %14d | %13d |", fn, tn)
	t.Logf("| precision %.3f | recall %.3f |", precision, recall)
	if len(corpus) < 200 {
		t.Errorf("corpus has %d messages, want at least 200", len(corpus))
	}
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.3f, recall %.3f: want both at least 0.95", precision, recall)
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
