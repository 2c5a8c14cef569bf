package embed

import (
	"context"
	"slices"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// The ids are what the model's own tokenizer (the tokenizers package with
// all-MiniLM-L6-v2's tokenizer.json) gives, [CLS], [SEP] and [UNK] left
// out.
func TestWordPieceIsBERTs(t *testing.T) {
	s := NewStatic()
	for _, c := range []struct {
		text string
		want []int32
	}{
		{"I twisted my left ankle jogging!", []int32{1045, 6389, 2026, 2187, 10792, 28233, 999}},
		{"Café déjà vu, naïve résumé", []int32{7668, 2139, 3900, 24728, 1010, 15743, 13746}},
		{"unbelievably xylophonist 2024-05-01", []int32{4895, 8671, 2666, 3567, 6321, 1060, 8516, 7361, 8747, 2923, 16798, 2549, 1011, 5709, 1011, 5890}},
		{"我喜欢 machine learning", []int32{1855, 3698, 4083}},
	} {
		if got := wordPiece(s.vocab, c.text); !slices.Equal(got, c.want) {
			t.Errorf("wordPiece(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestStaticKnowsMeaningWordsDoNotShare(t *testing.T) {
	s := NewStatic()
	if s.Dimensions() != 128 || s.Name() != "static-minilm-l6-128-v1" {
		t.Fatalf("built-in table: %d dimensions, name %q", s.Dimensions(), s.Name())
	}
	vs, err := s.Embed(context.Background(), []string{
		"I went jogging this morning",
		"She likes running in the park",
		"We baked bread and cookies",
		"",
	})
	if err != nil {
		t.Fatal(err)
	}
	related, unrelated := memory.Cosine(vs[0], vs[1]), memory.Cosine(vs[0], vs[2])
	if related <= unrelated+0.1 {
		t.Errorf("jogging~running %.3f, jogging~baking %.3f: want the first clearly higher", related, unrelated)
	}
	if slices.ContainsFunc(vs[3], func(x float32) bool { return x != 0 }) {
		t.Error("an empty text has a non-zero vector")
	}
	if n := memory.Cosine(vs[0], vs[0]); n < 0.999 {
		t.Errorf("a vector is not of unit length: cosine with itself %v", n)
	}
}

func TestParseStaticRefusesBrokenTables(t *testing.T) {
	good := minilmTable
	for name, data := range map[string][]byte{
		"empty":            nil,
		"another format":   []byte("P6\n1 1\n"),
		"header cut":       good[:len(staticMagic)+10],
		"vocabulary cut":   good[:len(good)/50],
		"vectors cut":      good[:len(good)-1],
		"vectors too many": append(slices.Clone(good), 0),
	} {
		if _, err := ParseStatic(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func BenchmarkStaticEmbed(b *testing.B) {
	s := NewStatic()
	text := []string{"I twisted my left ankle last week and my physio says no running until March."}
	for b.Loop() {
		s.Embed(context.Background(), text)
	}
}
