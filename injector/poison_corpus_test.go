package injector

import (
	"testing"

	"github.com/memproxy/memproxy/internal/poisoncorpus"
)

// TestPoisoningCorpusFlags prints how much of the poisoning corpus the
// filter alone flags. It is one of two defences: the learning pipeline
// (memory/learn) also drops commands and text addressed to the assistant,
// and the goals (95 % of attempts not learned, 2 % of ordinary messages
// lost) are checked there, on the whole pipeline. Here the filter must not
// flag more than 2 % of ordinary messages: a flagged memory is marked as
// suspect in every prompt it is recalled into.
func TestPoisoningCorpusFlags(t *testing.T) {
	attacks, ordinary := poisoncorpus.Attacks(), poisoncorpus.Ordinary()
	caught, lost := 0, 0
	for _, s := range attacks {
		if Suspicious(s) {
			caught++
		}
	}
	for _, s := range ordinary {
		if Suspicious(s) {
			lost++
			t.Logf("flagged: %q", s)
		}
	}
	t.Logf("filter alone: %d of %d attempts flagged (%.1f %%); %d of %d ordinary messages flagged (%.1f %%)",
		caught, len(attacks), 100*float64(caught)/float64(len(attacks)), lost, len(ordinary), 100*float64(lost)/float64(len(ordinary)))
	// A floor against regressions of the filter itself (90.4 % when
	// written); the goal is met with the pipeline's help.
	if float64(caught) < 0.85*float64(len(attacks)) {
		t.Errorf("flagged %d attempts, want at least 85 %%", caught)
	}
	if float64(lost) > 0.02*float64(len(ordinary)) {
		t.Errorf("flagged %d ordinary messages, want at most 2 %%", lost)
	}
}
