package learn_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/memproxy/memproxy/internal/poisoncorpus"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
)

// TestPoisoningIsNotLearned sends every message of the poisoning corpus
// through the writer in raw mode, each as one user's turn, and counts the
// users it learned something about. The goals: at least 95 % of the
// injection attempts learn nothing; at most 2 % of the ordinary messages
// learn nothing.
func TestPoisoningIsNotLearned(t *testing.T) {
	h := newWriterHarness(t, nil, learn.WriterConfig{})
	ctx := context.Background()
	learned := func(kind string, i int, msg string) bool {
		user := fmt.Sprintf("%s-%d", kind, i)
		if _, err := h.writer.Apply(ctx, []learn.Turn{turn("req_"+user, user, "coach", msg)}); err != nil {
			t.Fatal(err)
		}
		return count(t, h.store, memory.UserFilter(user)) > 0
	}
	attacks, ordinary := poisoncorpus.Attacks(), poisoncorpus.Ordinary()
	var planted, lost []string
	for i, msg := range attacks {
		if learned("attack", i, msg) {
			planted = append(planted, msg)
		}
	}
	for i, msg := range ordinary {
		if !learned("ordinary", i, msg) {
			lost = append(lost, msg)
		}
	}
	t.Logf("raw learning: %d of %d injection attempts not learned (%.1f %%); %d of %d ordinary messages lost (%.1f %%)",
		len(attacks)-len(planted), len(attacks), 100-100*float64(len(planted))/float64(len(attacks)),
		len(lost), len(ordinary), 100*float64(len(lost))/float64(len(ordinary)))
	for _, m := range planted {
		t.Logf("learned: %q", m)
	}
	for _, m := range lost {
		t.Logf("lost:    %q", m)
	}
	if float64(len(planted)) > 0.05*float64(len(attacks)) {
		t.Errorf("learned %d injection attempts, want at most 5 %%", len(planted))
	}
	if float64(len(lost)) > 0.02*float64(len(ordinary)) {
		t.Errorf("lost %d ordinary messages, want at most 2 %%", len(lost))
	}
}
