package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
)

// locomoDevDir is the LoCoMo dev set: shared/ beside the repository, as
// the developers and CI have it, or MEMPROXY_TEST_LOCOMO_DIR.
func locomoDevDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MEMPROXY_TEST_LOCOMO_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "locomo-dev")
	}
	if _, err := os.Stat(filepath.Join(dir, "30.json")); err != nil {
		if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
			t.Fatalf("no LoCoMo dev set: %v", err)
		}
		t.Skipf("no LoCoMo dev set (%v); set MEMPROXY_TEST_LOCOMO_DIR", err)
	}
	return dir
}

// TestLocomoRecallNotBelowBM25 is the CI slice of bench's quality test:
// on the smallest conversation of the dev set, memproxy with its defaults
// (the static embedder, the embedded store) recalls at least as much at 10
// as a plain BM25 over the same turns.
func TestLocomoRecallNotBelowBM25(t *testing.T) {
	c, err := loadLocomo(filepath.Join(locomoDevDir(t), "30.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	emb := embed.NewStatic()
	store, err := embedded.Open(t.TempDir(), emb.Dimensions(), emb.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ranked, _, err := memproxyRank(context.Background(), store, emb, []locomoConv{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, bm25 := recallAt(c.questions, ranked[0], 10), recallAt(c.questions, bm25Rank(c), 10)
	t.Logf("conversation 30, %d questions: recall@10 memproxy %.3f, BM25 %.3f", len(c.questions), got, bm25)
	if got < bm25 {
		t.Errorf("memproxy's recall@10 %.3f is below BM25's %.3f", got, bm25)
	}
}

func TestLocomoScoring(t *testing.T) {
	qs := []locomoQuestion{{evidence: []string{"D1:1"}}, {evidence: []string{"D1:2", "D2:1"}}}
	ranked := [][]string{{"D1:3", "D1:1"}, {"D2:1", "D9:9", "D1:2"}}
	for k, want := range map[int]float64{1: 0, 2: 0.5, 3: 1} {
		if got := recallAt(qs, ranked, k); got != want {
			t.Errorf("recall@%d = %v, want %v", k, got, want)
		}
	}
	fused := rrf(60, []string{"a", "b", "c"}, []string{"c", "b", "d"})
	// c: 1/63 + 1/61 beats b: 1/62 + 1/62; a: 1/61 beats d: 1/63.
	if want := []string{"c", "b", "a", "d"}; !slicesEqual(fused, want) {
		t.Errorf("rrf = %v, want %v", fused, want)
	}
}

func TestBM25(t *testing.T) {
	ix := newBM25([]string{"Jon: I lost my job as a banker.", "Gina: My store is running well.", "Jon: dancing is my passion, I run a studio."})
	if got := ix.rank("What did Jon lose?"); len(got) == 0 || got[0] != 0 {
		t.Errorf("rank(lose) = %v, want the first text first (lost -> lose by stemming)", got)
	}
	if got := bm25Tokens("Caroline's running"); !slicesEqual(got, []string{"carolin", "run"}) {
		t.Errorf("tokens = %v", got)
	}
	if got := ix.rank("the of and"); len(got) != 0 {
		t.Errorf("stop words matched %v", got)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
