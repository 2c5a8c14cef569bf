// Package lexical owns memproxy's lexical retrieval: the analyzer that
// turns text into terms, and BM25 over an index of one scope's memories.
package lexical

import (
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Terms returns the terms of text, in order, duplicates kept: the text is
// normalised (NFKC) and case-folded, split into words, English stop words
// are dropped and the rest stemmed (Snowball English, "running" → "run").
// Runs of Chinese, Japanese or Korean characters, which are written
// without spaces, become overlapping character pairs ("机器学习" → "机器",
// "器学", "学习"), the usual way to index them without a dictionary.
func Terms(text string) []string {
	text = fold.String(norm.NFKC.String(text))
	var out []string
	var word, cjk []rune
	flushWord := func() {
		w := strings.Trim(string(word), "'")
		word = word[:0]
		if w == "" || stopWords[w] {
			return
		}
		w = english.Stem(w, false)
		if w != "" && !stopWords[w] {
			out = append(out, w)
		}
	}
	flushCJK := func() {
		switch len(cjk) {
		case 0:
		case 1:
			out = append(out, string(cjk))
		default:
			for i := 0; i+1 < len(cjk); i++ {
				out = append(out, string(cjk[i:i+2]))
			}
		}
		cjk = cjk[:0]
	}
	for _, r := range text {
		switch {
		case isCJK(r):
			flushWord()
			cjk = append(cjk, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			flushCJK()
			word = append(word, r)
		case (r == '\'' || r == '’') && len(word) > 0:
			// "Sarah's", "don't": the stemmer knows the possessive; a
			// quote mark around a word is trimmed by flushWord.
			word = append(word, '\'')
		default:
			flushWord()
			flushCJK()
		}
	}
	flushWord()
	flushCJK()
	return out
}

var fold = cases.Fold()

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// StopWords returns the English stop words Terms drops, for a store whose
// server analyses text itself (Milvus) to drop the same ones.
func StopWords() []string {
	out := make([]string, 0, len(stopWords))
	for w := range stopWords {
		out = append(out, w)
	}
	return out
}

// stopWords are function words: pronouns, auxiliaries, determiners,
// prepositions and conjunctions. They say nothing of what a memory is
// about; matched, they would make any two sentences related.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a about above after again against all also am an and any are
		as at be because been before being below between both but by can could did do does doing
		down during each few for from further had has have having he her here hers herself him
		himself his how i if in into is it its itself just me more most my myself no nor not of off
		on once only or other our ours ourselves out over own same she should so some such than
		that the their theirs them themselves then there these they this those through to too under
		until up very was we were what when where which while who whom why will with would you
		your yours yourself yourselves i'm i've i'll i'd you're you've you'll you'd he's she's it's
		we're we've we'll they're they've that's there's what's let's don't doesn't didn't isn't
		aren't wasn't weren't can't couldn't won't wouldn't shouldn't haven't hasn't hadn't im ive
		dont cant yeah yes oh ok okay hey hi really`) {
		stopWords[w] = true
	}
}
