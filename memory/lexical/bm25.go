package lexical

import "math"

// BM25 parameters: the usual ones (Lucene's and Milvus' defaults). K1
// bounds how much repeating a term adds; B how much a long text is
// discounted.
const (
	K1 = 1.2
	B  = 0.75
)

// An Index holds the terms of one scope's memories: for each term, the
// memories that have it and how often, and each memory's length in
// terms. It is not safe for concurrent use; its owner locks.
type Index struct {
	postings map[string]map[string]int32 // term → memory id → count
	lengths  map[string]int32            // memory id → terms
	terms    map[string][]string         // memory id → its distinct terms
	total    int64                       // sum of lengths
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{
		postings: make(map[string]map[string]int32),
		lengths:  make(map[string]int32),
		terms:    make(map[string][]string),
	}
}

// Len is the number of memories indexed.
func (x *Index) Len() int { return len(x.lengths) }

// Add indexes the text of memory id, replacing what id had.
func (x *Index) Add(id, text string) {
	x.Remove(id)
	terms := Terms(text)
	x.lengths[id] = int32(len(terms))
	x.total += int64(len(terms))
	for _, t := range terms {
		p := x.postings[t]
		if p == nil {
			p = make(map[string]int32)
			x.postings[t] = p
		}
		p[id]++
	}
	x.terms[id] = unique(terms)
}

// Remove takes memory id out of the index; an unknown id is ignored.
func (x *Index) Remove(id string) {
	n, ok := x.lengths[id]
	if !ok {
		return
	}
	delete(x.lengths, id)
	x.total -= int64(n)
	for _, t := range x.terms[id] {
		p := x.postings[t]
		delete(p, id)
		if len(p) == 0 {
			delete(x.postings, t)
		}
	}
	delete(x.terms, id)
}

// Score calls fn with the BM25 score against query of every memory, in
// any of indexes, that has at least one of query's terms (see Terms).
// The statistics (how many memories, their average length, how many have
// each term) are those of all the indexes together: the scope searched.
// A term repeated in the query counts once.
func Score(query string, indexes []*Index, fn func(id string, score float64)) {
	terms := unique(Terms(query))
	if len(terms) == 0 {
		return
	}
	var n, total int64
	for _, x := range indexes {
		n += int64(len(x.lengths))
		total += x.total
	}
	if n == 0 {
		return
	}
	avg := float64(total) / float64(n)
	scores := make(map[string]float64)
	for _, t := range terms {
		df := 0
		for _, x := range indexes {
			df += len(x.postings[t])
		}
		if df == 0 {
			continue
		}
		// Lucene's idf: never negative, so a term in most memories still
		// counts a little rather than against them.
		idf := math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
		for _, x := range indexes {
			for id, tf := range x.postings[t] {
				f := float64(tf)
				norm := 1 - B + B*float64(x.lengths[id])/avg
				scores[id] += idf * f * (K1 + 1) / (f + K1*norm)
			}
		}
	}
	for id, s := range scores {
		fn(id, s)
	}
}

func unique(ts []string) []string {
	seen := make(map[string]bool, len(ts))
	out := ts[:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
