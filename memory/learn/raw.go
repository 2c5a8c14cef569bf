package learn

import (
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/memory"
)

// RawExtractor keeps the statements of the messages as they are (see
// RawFact), dropping greetings, questions and requests, and sorts them
// into categories by their words. About the agent, it keeps first-person
// singular statements only ("I ...", "My ...") that do not speak of the
// user ("you", "your"): what the agent says about itself. A persona is
// read by every user of the agent, so "we" statements, which tell of
// this user's conversation, are left out too.
type RawExtractor struct{}

// Facts returns one fact per message that has statements in it.
func (RawExtractor) Facts(_ context.Context, conv []memory.Message, req FactRequest) ([]Fact, error) {
	var facts []Fact
	for _, m := range conv {
		if !req.counts(m.Role) {
			continue
		}
		text := m.Content
		if req.About == AboutAgent {
			var mine []string
			for _, s := range sentences(text) {
				if firstPerson(s) && !secondPerson(s) && !injector.Suspicious(s) {
					mine = append(mine, s)
				}
			}
			text = strings.Join(mine, " ")
		}
		if f := RawFact(text, req.MinChars); f != "" {
			facts = append(facts, Fact{Text: f, Category: Classify(f)})
		}
	}
	return facts, nil
}

func firstPerson(s string) bool {
	first, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s)), " ")
	switch strings.Trim(first, ",.!") {
	case "i", "i'm", "im", "i've", "i'll", "i'd", "my":
		return true
	}
	return false
}

// secondPerson reports whether a sentence speaks to or of its listener.
func secondPerson(s string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	}) {
		switch strings.Trim(w, "'") {
		case "you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'll", "you'd", "u", "ur", "y'all":
			return true
		}
	}
	return false
}

// MaxRawFact is the longest fact, in characters, that raw extraction
// keeps from one message. A pasted document is not a fact about the user;
// stored whole, it would crowd every later prompt it is recalled into.
const MaxRawFact = 2000

// RawFact returns the part of a user message worth remembering as is: its
// statements, without questions, greetings and acknowledgements, up to
// MaxRawFact characters (whole sentences where they fit). It returns ""
// when nothing is left or the rest is shorter than minChars.
func RawFact(msg string, minChars int) string {
	var b strings.Builder
	n := 0
	for _, s := range sentences(msg) {
		if isLowSignal(s) {
			continue
		}
		sn := utf8.RuneCountInString(s)
		if n > 0 {
			sn++ // the space before it
		}
		if n+sn > MaxRawFact {
			if n == 0 { // one long sentence: cut at a word
				s = truncateWords(s, MaxRawFact)
				b.WriteString(s)
				n = utf8.RuneCountInString(s)
			}
			break
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		n += sn
	}
	if n < minChars {
		return ""
	}
	return b.String()
}

// truncateWords cuts s to at most max characters, at a space if there is
// one in the second half.
func truncateWords(s string, max int) string {
	rs := []rune(s)
	if len(rs) <= max {
		return s
	}
	cut := max
	for i := max; i > max/2; i-- {
		if unicode.IsSpace(rs[i]) {
			cut = i
			break
		}
	}
	return strings.TrimSpace(string(rs[:cut]))
}

// sentences splits text after '.', '!' and '?' and at line breaks.
func sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	flush := func(end int) {
		if s := strings.TrimSpace(string(rs[start:end])); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range rs {
		switch r {
		case '\n':
			flush(i + 1)
		case '.', '!', '?':
			if i+1 == len(rs) || unicode.IsSpace(rs[i+1]) {
				flush(i + 1)
			}
		}
	}
	flush(len(rs))
	return out
}

var lowSignal = map[string]bool{}

func init() {
	for _, s := range []string{
		"thanks", "thank you", "thx", "ty", "ok", "okay", "k", "cool", "great", "nice", "sure", "yes",
		"no", "yep", "nope", "lol", "haha", "bye", "goodbye", "good morning", "good night",
		"good evening", "got it", "sounds good", "awesome", "perfect", "hmm", "continue", "go on",
		"please", "thanks a lot", "thank you so much", "cheers",
	} {
		lowSignal[s] = true
	}
}

var greetings = map[string]bool{"hi": true, "hello": true, "hey": true, "yo": true, "hiya": true, "howdy": true}

// requestVerbs open sentences that ask the assistant for something:
// "Tell me a joke", "Write a plan". They say what the user wants now,
// not something lasting about them.
var requestVerbs = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`tell give show explain write help list suggest recommend make create
		generate describe summarize summarise translate find stream answer repeat say send draft
		calculate compute continue please let's lets rewrite fix check compare`) {
		requestVerbs[w] = true
	}
}

// isLowSignal reports whether a sentence is a greeting, an
// acknowledgement, a question or a request to the assistant: things that
// say nothing lasting about the user. Raw extraction keeps statements
// only; the llm mode can find facts in the rest.
func isLowSignal(s string) bool {
	if strings.HasSuffix(strings.TrimSpace(s), "?") {
		return true
	}
	norm := strings.ToLower(strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) }))
	words := strings.Fields(norm)
	if len(words) == 0 || lowSignal[strings.Join(words, " ")] {
		return true
	}
	first := strings.Trim(words[0], ",!.")
	if requestVerbs[first] || slices.Contains(words, "please") {
		return true
	}
	// "Hi", "hello there", "hey coach": a greeting and a word or two.
	return greetings[first] && len(words) <= 3
}
