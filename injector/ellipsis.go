package injector

import (
	"strings"
	"unicode"
)

// Elliptical reports whether a user message leans on the one before it
// for what it is about: a follow-up that opens with "what about", "and",
// "also" and the like; a short question whose subject is only a pronoun
// ("what did she say?"); or a word or two ("why?", "really?"). A message
// that names its subject ("what did Caroline paint?") is not: expanding
// it would only dilute the query.
func Elliptical(msg string) bool {
	words := strings.FieldsFunc(msg, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
	})
	if len(words) == 0 {
		return false
	}
	if len(words) <= 2 {
		return true
	}
	lower := make([]string, len(words))
	for i, w := range words {
		lower[i] = strings.ToLower(w)
	}
	if len(words) <= 8 {
		for _, opener := range followUps {
			if hasPrefixWords(lower, opener) {
				return true
			}
		}
	}
	if len(words) > 6 {
		return false
	}
	anaphor := false
	for i, w := range lower {
		if anaphors[w] {
			anaphor = true
		}
		// A capitalised word after the first is a name: the message says
		// whom or what it is about. "I" is no name.
		if i > 0 && w != "i" && unicode.IsUpper([]rune(words[i])[0]) {
			return false
		}
	}
	return anaphor
}

// followUps open a message that continues the previous one.
var followUps = [][]string{
	{"what", "about"}, {"how", "about"}, {"and"}, {"also"}, {"what", "else"},
	{"anything", "else"}, {"same", "for"}, {"why", "not"}, {"or"}, {"but"},
}

// anaphors stand for something said before.
var anaphors = map[string]bool{
	"he": true, "she": true, "him": true, "her": true, "his": true, "hers": true,
	"they": true, "them": true, "their": true, "theirs": true, "it": true, "its": true,
	"that": true, "those": true, "this": true, "these": true, "there": true, "then": true,
}

func hasPrefixWords(words, prefix []string) bool {
	if len(words) < len(prefix) {
		return false
	}
	for i, p := range prefix {
		if words[i] != p {
			return false
		}
	}
	return true
}
