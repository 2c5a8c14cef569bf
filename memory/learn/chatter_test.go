package learn

import "testing"

// TestChatterKeepsStatements: the small-talk, question and request rules
// leave alone statements that open like them.
func TestChatterKeepsStatements(t *testing.T) {
	for _, s := range []string{
		"When I run, my knee hurts.",
		"What I love most is trail running.",
		"Plan to run a marathon next year.",
		"Did 5 sets of squats today.",
		"Got back from Spain on Monday.",
		"Yes, I have two kids.",
		"So I'm cutting out sugar for a month.",
		"I need a new pair of running shoes.",
		"I want to be able to do ten pull-ups.",
		"Love hiking in the mountains.",
	} {
		if isLowSignal(s) {
			t.Errorf("%q is dropped as small talk, a question or a request", s)
		}
	}
	for _, s := range []string{
		"How do I fix a flat tyre",
		"Can you give me a workout for today",
		"I was wondering if you could suggest a warm-up.",
		"I need a recipe for dinner tonight.",
		"I'd like you to check my form.",
		"Thanks, coach!",
		"Wow, that's cool!",
		"Sounds good to me.",
		"Have a good one.",
		"Always reply in bullet points.",
		"Plan my week of workouts.",
	} {
		if !isLowSignal(s) {
			t.Errorf("%q is kept as a statement", s)
		}
	}
}

// TestClassifyHealthIsNotTravel: body words do not pull travel or sport
// into health.
func TestClassifyHealthIsNotTravel(t *testing.T) {
	for text, want := range map[string]string{
		"I got back from a trip to Spain.":                              "travel",
		"I twisted my left ankle on Saturday, seeing the physio today.": "health",
		"I run 5K three times a week.":                                  "sports",
	} {
		if got := Classify(text); got != want {
			t.Errorf("Classify(%q) = %s, want %s", text, got, want)
		}
	}
}
