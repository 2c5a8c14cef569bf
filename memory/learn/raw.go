package learn

import (
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/policies"
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
		f := RawFact(text, req.MinChars)
		if f == "" {
			continue
		}
		if !req.Scoped || req.About != AboutUser {
			facts = append(facts, Fact{Text: f, Category: Classify(f)})
			continue
		}
		for _, part := range byScope(f, req.MinChars) {
			facts = append(facts, Fact{Text: part.text, Category: Classify(part.text), Scope: part.scope})
		}
	}
	return facts, nil
}

type scopedText struct{ text, scope string }

// byScope splits a fact's sentences into those about the user and those
// about the user's relationship with the agent, in their order; a part
// shorter than minChars stays with the other.
func byScope(fact string, minChars int) []scopedText {
	var user, rel []string
	for _, s := range sentences(fact) {
		if ClassifyScope(s) == policies.ScopeRelationship {
			rel = append(rel, s)
		} else {
			user = append(user, s)
		}
	}
	u, r := strings.Join(user, " "), strings.Join(rel, " ")
	switch {
	case r == "":
		return []scopedText{{u, policies.ScopeUser}}
	case u == "":
		return []scopedText{{r, policies.ScopeRelationship}}
	case weight(u) < minChars || weight(r) < minChars:
		return []scopedText{{fact, ClassifyScope(fact)}}
	}
	return []scopedText{{u, policies.ScopeUser}, {r, policies.ScopeRelationship}}
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
		if rest := rememberThat.ReplaceAllString(s, ""); rest != s {
			if strings.HasPrefix(strings.ToLower(rest), "to ") {
				continue // "remember to buy milk": a reminder asked for, not a fact
			}
			s = rest
		}
		if isLowSignal(s) {
			continue
		}
		sn := utf8.RuneCountInString(s)
		if n > 0 {
			sn++ // the space before it
		}
		if n+sn > MaxRawFact {
			if n == 0 { // one long sentence: cut at a word
				b.WriteString(truncateWords(s, MaxRawFact))
			}
			break
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
		n += sn
	}
	if weight(b.String()) < minChars {
		return ""
	}
	return b.String()
}

// weight is a text's length in characters for minChars, a Chinese,
// Japanese or Korean character counting as two: "我对花生过敏" (allergic
// to peanuts) says in six what English says in twenty-odd.
func weight(s string) int {
	n := 0
	for _, r := range s {
		n++
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			n++
		}
	}
	return n
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

// isLowSignal reports whether a sentence is a greeting, an
// acknowledgement, a question, a request or a command to the assistant, or
// otherwise speaks to the assistant rather than of the user: things that
// say nothing lasting about the user, and, kept, would be recalled into
// later prompts as if they were facts. Raw extraction keeps statements
// only; the llm mode can find facts in the rest.
func isLowSignal(s string) bool {
	if strings.HasSuffix(strings.TrimSpace(s), "?") {
		return true
	}
	if cw := chatWords(s); question(cw) || request(cw) || smallTalk(cw) || slices.Contains(cw, "please") && !quoted.MatchString(s) {
		return true
	}
	norm := strings.ToLower(strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) }))
	words := strings.Fields(norm)
	if len(words) == 0 || lowSignal[strings.Join(words, " ")] {
		return true
	}
	first := strings.Trim(words[0], ",!.")
	unquoted := strings.Fields(strings.ToLower(quoted.ReplaceAllString(s, "")))
	if slices.Contains(unquoted, "please") || command(s) || addressed(s) || standingOrder(s) {
		return true
	}
	// "Hi", "hello there", "hey coach": a greeting and a word or two.
	return greetings[first] && len(words) <= 3
}
