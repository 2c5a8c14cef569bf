package memory

// DefaultRelevanceFloor is the relevance floor of an embedder that does
// not say its own (see RelevanceFloor): the similarity below which a
// memory is taken as unrelated to the query. Sentence models put
// unrelated texts at 0 to 0.15 and related ones from 0.3 up.
const DefaultRelevanceFloor = 0.2

// A RelevanceFloorer is an Embedder that knows below which similarity
// its vectors say two texts are unrelated.
type RelevanceFloorer interface {
	RelevanceFloor() float64
}

// RelevanceFloor is e's relevance floor: what a layer's MinScore of 0
// means (the built-in embedders have none: see their RelevanceFloor). A memory enters the vector ranking of a search only at this
// similarity or above, and the BM25 ranking only if it shares a term with
// the query; a message unrelated to every memory recalls none.
func RelevanceFloor(e Embedder) float64 {
	if f, ok := e.(RelevanceFloorer); ok {
		return f.RelevanceFloor()
	}
	return DefaultRelevanceFloor
}
