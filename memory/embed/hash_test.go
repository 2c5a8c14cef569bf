package embed_test

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

func TestHash(t *testing.T) {
	e := embed.NewHash(0)
	vs, err := e.Embed(context.Background(), []string{
		"I completed a 5K run in 28 minutes",
		"Running my first 5K race next week",
		"My favourite pizza topping is pineapple",
		"",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs[:3] {
		if len(v) != 256 {
			t.Fatalf("vector %d has %d dimensions", i, len(v))
		}
		if n := memory.Cosine(v, v); n < 0.999 || n > 1.001 {
			t.Errorf("vector %d is not unit length: %f", i, n)
		}
	}
	related, unrelated := memory.Cosine(vs[0], vs[1]), memory.Cosine(vs[0], vs[2])
	if related <= unrelated+0.1 {
		t.Errorf("cos(run, run) = %.3f is not clearly above cos(run, pizza) = %.3f", related, unrelated)
	}
	again, _ := e.Embed(context.Background(), []string{"I completed a 5K run in 28 minutes"})
	if memory.Cosine(again[0], vs[0]) < 0.9999 {
		t.Errorf("the hash embedder is not deterministic")
	}
	for _, x := range vs[3] {
		if x != 0 {
			t.Fatalf("the empty text has a non-zero vector")
		}
	}
}
