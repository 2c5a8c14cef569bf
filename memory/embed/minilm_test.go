package embed_test

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/internal/minilmtest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

// The paraphrase answers the query without sharing a content word with it;
// the distractor shares the query's words and answers nothing. A lexical
// embedder does not rank the paraphrase first; a semantic one must.
var semanticCases = []struct{ query, paraphrase, distractor string }{
	{"Do I eat meat?", "I have been vegetarian since 2015.", "Do I need to eat before the meeting?"},
	{"What pets do I have?", "My dog Biscuit sleeps on the sofa.", "What do I have for lunch?"},
	{"Where do I live?", "My home is a flat in Lisbon.", "Where do I park the bike?"},
}

// TestOpenAIWithRealSemantics runs the openai embedder against the
// all-MiniLM-L6-v2 fixture: real semantics, not word overlap.
func TestOpenAIWithRealSemantics(t *testing.T) {
	srv := minilmtest.New(t)
	ctx := context.Background()
	e, err := embed.NewOpenAI(embed.OpenAIConfig{BaseURL: srv.BaseURL, APIKey: "unused", Model: minilmtest.Model})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Dimensions() != minilmtest.Dimensions {
		t.Fatalf("dimensions %d, want %d", e.Dimensions(), minilmtest.Dimensions)
	}
	t.Run("known similarities", func(t *testing.T) { knownSimilarities(t, srv) })
	hash := embed.NewHash(0)
	for _, c := range semanticCases {
		texts := []string{c.query, c.paraphrase, c.distractor}
		vs, err := e.Embed(ctx, texts)
		if err != nil {
			t.Fatal(err)
		}
		para, dist := memory.Cosine(vs[0], vs[1]), memory.Cosine(vs[0], vs[2])
		if para <= dist {
			t.Errorf("%q: paraphrase %q scores %.3f, not above distractor %q at %.3f", c.query, c.paraphrase, para, c.distractor, dist)
		}
		// Word overlap does not rank the paraphrase first (ties do not
		// count): else the case would not show semantics.
		hv, _ := hash.Embed(ctx, texts)
		if hp, hd := memory.Cosine(hv[0], hv[1]), memory.Cosine(hv[0], hv[2]); hp > hd {
			t.Errorf("%q: the hash embedder already ranks the paraphrase first (%.3f > %.3f): not a semantic case", c.query, hp, hd)
		}
	}
}

// knownSimilarities checks the fixture against similarities
// all-MiniLM-L6-v2 is known for, through the embedder: the model card's
// example pair is close, unrelated sentences are not.
func knownSimilarities(t *testing.T, srv *minilmtest.Server) {
	ctx := context.Background()
	e, err := embed.NewOpenAI(embed.OpenAIConfig{BaseURL: srv.BaseURL, Model: minilmtest.Model, Dimensions: minilmtest.Dimensions})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := e.Embed(ctx, []string{"A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome.", "A man is eating food."})
	if err != nil {
		t.Fatal(err)
	}
	if c := memory.Cosine(vs[0], vs[1]); c < 0.7 {
		t.Errorf("eating food / eating bread: cosine %.3f, want at least 0.7", c)
	}
	if c := memory.Cosine(vs[0], vs[2]); c < -0.1 || c > 0.1 {
		t.Errorf("eating food / the new movie: cosine %.3f, want within 0.1 of 0", c)
	}
	if c := memory.Cosine(vs[0], vs[3]); c < 0.9999 {
		t.Errorf("the same text twice in one batch: cosine %.5f, want 1", c)
	}
}
