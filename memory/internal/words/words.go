// Package words owns the tokenizer of the memory packages: lower-cased
// words without stop words, with common English suffixes stripped.
//
// The hash embedder's vectors are made of these tokens, so a change here
// changes the "hash-v1" embedding space: give the embedder a new name.
package words

import (
	"strings"
	"unicode"
)

// Tokenize lower-cases text, splits it into words, drops stop words and
// stems the rest (see Stem).
func Tokenize(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	words := fields[:0]
	for _, f := range fields {
		if stopWords[f] {
			continue
		}
		words = append(words, Stem(f))
	}
	return words
}

// Stem strips one common English suffix ("ing", "ed", "es", "s") from a
// lower-case word long enough to keep a stem of three letters.
func Stem(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) && !strings.HasSuffix(w, "ss") {
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by do does did for from has have
		had he her him his i if in into is it its me my of on or our she so than that the their
		them then there these they this to too us was we were what when where which who why will
		with you your yours i'm im am been being can could would should just about`) {
		stopWords[w] = true
	}
}
