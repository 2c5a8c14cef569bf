package main

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// bm25 is an Okapi BM25 index over a few documents, the lexical baseline
// of the quality test. It is the benchmark's own, independent of the
// memory packages' lexical search, so that it measures them rather than
// itself.
type bm25 struct {
	k1, b  float64
	docs   []map[string]int // term frequencies
	lens   []float64
	avgLen float64
	df     map[string]int
}

func newBM25(texts []string) *bm25 {
	ix := &bm25{k1: 1.2, b: 0.75, df: map[string]int{}}
	total := 0.0
	for _, t := range texts {
		tf := map[string]int{}
		toks := bm25Tokens(t)
		for _, w := range toks {
			tf[w]++
		}
		for w := range tf {
			ix.df[w]++
		}
		ix.docs = append(ix.docs, tf)
		ix.lens = append(ix.lens, float64(len(toks)))
		total += float64(len(toks))
	}
	ix.avgLen = total / float64(max(len(texts), 1))
	return ix
}

// rank returns the indexes of the documents that share a term with the
// query, best first (ties in document order).
func (ix *bm25) rank(query string) []int {
	n := float64(len(ix.docs))
	scores := make([]float64, len(ix.docs))
	for _, w := range uniq(bm25Tokens(query)) {
		df := float64(ix.df[w])
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for i, tf := range ix.docs {
			f := float64(tf[w])
			if f == 0 {
				continue
			}
			scores[i] += idf * f * (ix.k1 + 1) / (f + ix.k1*(1-ix.b+ix.b*ix.lens[i]/ix.avgLen))
		}
	}
	var out []int
	for i, s := range scores {
		if s > 0 {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	return out
}

func uniq(ws []string) []string {
	var out []string
	for _, w := range ws {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// bm25Tokens lowercases, splits on anything not a letter or digit, drops
// stop words and stems with the Snowball English stemmer.
func bm25Tokens(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '\''
	}) {
		w = strings.Trim(w, "'")
		if i := strings.IndexByte(w, '\''); i >= 0 { // "caroline's" -> "caroline", "i'm" -> "i"
			w = w[:i]
		}
		if w == "" || stopWords[w] {
			continue
		}
		out = append(out, english.Stem(w, false))
	}
	return out
}

// stopWords are the English stop words of the Snowball project's list.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`i me my myself we our ours ourselves you your yours yourself yourselves
		he him his himself she her hers herself it its itself they them their theirs themselves what which who
		whom this that these those am is are was were be been being have has had having do does did doing would
		should could ought a an the and but if or because as until while of at by for with about against between
		into through during before after above below to from up down in out on off over under again further then
		once here there when where why how all any both each few more most other some such no nor not only own same
		so than too very s t can will just don now`) {
		m[w] = true
	}
	return m
}()
