package injector

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"
)

// directive reports whether a view of a text reads as a standing order to
// the model: no single phrase gives it away, but it combines at least
// three of the signals below (wordSignals, regexpSignals), which ordinary messages, even ones about
// rules, computers or habits, seldom do together: it speaks to the model,
// is about what steers the model, asks for something always, of everyone
// or for good, opens with a command, or carries a link.
func directive(view string) bool {
	words := make(map[string]bool, 32)
	for w := range strings.FieldsFuncSeq(view, func(r rune) bool { return !(r >= 'a' && r <= 'z') && r != '\'' }) {
		words[w] = true
	}
	score := 0
	for _, sig := range wordSignals {
		if sig.in(words, view) {
			score++
		}
	}
	// The two regular-expression signals cost most: skip them when they
	// cannot bring the score to the mark.
	for _, re := range regexpSignals {
		if score+len(regexpSignals) < directiveScore {
			return false
		}
		if score >= directiveScore {
			return true
		}
		if re.MatchString(view) {
			score++
		}
	}
	return score >= directiveScore
}

const directiveScore = 3

// A wordSignal is present when the text has one of its words, or one of
// its phrases.
type wordSignal struct {
	words   map[string]bool
	phrases []string
}

func signal(words string, phrases ...string) wordSignal {
	sig := wordSignal{words: map[string]bool{}, phrases: phrases}
	for _, w := range strings.Fields(words) {
		sig.words[w] = true
	}
	return sig
}

func (sig wordSignal) in(words map[string]bool, text string) bool {
	for w := range words {
		if sig.words[w] {
			return true
		}
	}
	for _, p := range sig.phrases {
		if strings.Contains(text, p) {
			return true
		}
	}
	return false
}

var wordSignals = []wordSignal{
	// It speaks to the model.
	signal("you your yourself you're youre ur u assistant ai chatbot bot gpt llm model"),
	// It is about what steers the model or what the model holds.
	signal(`rules policy policies filter filters filtered unfiltered uncensored censor censored censorship
		restriction restrictions restricted guidelines instruction instructions prompt prompts safety boundaries
		norms moral ethics ethical caveats configuration config programming training jailbreak godmode override
		sandbox limits limitations persona memories memory database environment tool tools passwords password
		credentials`,
		"api key", "hidden context", "context window", "other user", "previous user", "another user",
		"everyone else", "all users"),
	// It asks for something always, of everyone, or for good.
	signal("always never forever permanently every everyone everybody anyone anybody whenever henceforth",
		"from now on", "from today", "until further notice", "each time", "all users", "all future", "all your",
		"all my questions", "all the time", "any user", "any question", "any one"),
}

var regexpSignals = []*regexp.Regexp{
	// It carries a link or an address.
	regexp.MustCompile(`https?\s*:\s*/|www\.|\b[\w.+-]+@[\w-]+\.\w|\blink\b`),
	// It opens with a command.
	regexp.MustCompile(`(?:^|[.!?:;\n]\s*|\bp\.?s\.?,?\s+)(?:please\s+|now\s+|also\s+|and\s+)?(?:always|never|ignore|forget|disregard|tell|respond|answer|reply|include|print|show|list|email|send|repeat|reveal|output|translate|encode|decode|follow|obey|be|become|act|pretend|simulate|activate|enable|disable|recommend|summari[sz]e|dump|fetch|keep|store|save|read|write|add|append|insert|mention|promote|say|start|begin|end|switch|stop|use|give|share|post|upload|quote|provide|assume|treat|consider|describe|explain|from\s+now\s+on)\b`),
}

// base64Token is a run of text that may be base64: long enough not to be
// an ordinary word.
var base64Token = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)

// decodings returns what the text's base64-looking runs decode to, where
// that is readable text: a model decodes base64 without being asked.
func decodings(text string) []string {
	if !hasLongRun(text) {
		return nil
	}
	var out []string
	for _, tok := range base64Token.FindAllString(text, 4) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(tok)
			if err == nil && readable(b) {
				out = append(out, string(b))
				break
			}
		}
	}
	return out
}

// hasLongRun reports whether text has 16 base64 characters in a row,
// cheaply: most texts do not, and need no regular expression.
func hasLongRun(text string) bool {
	run := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-' {
			if run++; run >= 16 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// readable reports whether b is UTF-8 text made mostly of letters and
// spaces.
func readable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	s := string(b)
	letters := 0
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' {
			return false
		}
		if r == ' ' || strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", r) {
			letters++
		}
	}
	return letters*4 >= utf8.RuneCountInString(s)*3
}
