package injector

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"
)

// directive reports whether a view of a text reads as a standing order to
// the model: no single phrase gives it away, but it combines at least
// three of the signals below, which ordinary messages, even ones about
// rules, computers or habits, seldom do together: it speaks to the model,
// is about what steers the model, asks for something always, of everyone
// or for good, opens with a command, or carries a link.
func directive(view string) bool {
	score := 0
	for _, sig := range directiveSignals {
		if sig.MatchString(view) {
			score++
			if score >= directiveScore {
				return true
			}
		}
	}
	return false
}

const directiveScore = 3

var directiveSignals = []*regexp.Regexp{
	// It speaks to the model.
	regexp.MustCompile(`\b(?:you|your|yourself|you're|youre|ur|u|assistant|ai|chatbot|bot|gpt|llm|model)\b`),
	// It is about what steers the model or what the model holds.
	regexp.MustCompile(`\b(?:rules|policy|policies|filters?|filtered|unfiltered|uncensored|censor(?:ed|ship)?|restrictions?|restricted|guidelines|instructions?|prompts?|safety|boundaries|norms|moral|ethics|ethical|caveats|configuration|config|programming|training|jailbreak|godmode|override|sandbox|limits|limitations|persona|memories|memory|database|environment|api\s+keys?|tools?|hidden\s+context|context\s+window|passwords?|credentials|other\s+users?|previous\s+user|another\s+user|everyone\s+else|all\s+users)\b`),
	// It asks for something always, of everyone, or for good.
	regexp.MustCompile(`\b(?:always|never|forever|permanently|every|everyone|everybody|anyone|anybody|whenever|henceforth|from\s+now\s+on|from\s+today|until\s+further\s+notice|each\s+time|all\s+(?:users|future|your|my\s+questions|the\s+time)|any\s+(?:user|question|one))\b`),
	// It opens with a command.
	regexp.MustCompile(`(?:^|[.!?:;\n]\s*|\bp\.?s\.?,?\s+)(?:please\s+|now\s+|also\s+|and\s+)?(?:always|never|ignore|forget|disregard|tell|respond|answer|reply|include|print|show|list|email|send|repeat|reveal|output|translate|encode|decode|follow|obey|be|become|act|pretend|simulate|activate|enable|disable|recommend|summari[sz]e|dump|fetch|keep|store|save|read|write|add|append|insert|mention|promote|say|start|begin|end|switch|stop|use|give|share|post|upload|quote|provide|assume|treat|consider|describe|explain|from\s+now\s+on)\b`),
	// It carries a link or an address.
	regexp.MustCompile(`https?\s*:\s*/|www\.|\b[\w.+-]+@[\w-]+\.\w|\blink\b`),
}

// base64Token is a run of text that may be base64: long enough not to be
// an ordinary word.
var base64Token = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)

// decodings returns what the text's base64-looking runs decode to, where
// that is readable text: a model decodes base64 without being asked.
func decodings(text string) []string {
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
