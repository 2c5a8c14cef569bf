package main

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/memproxy/memproxy/internal/minilmtest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

// locomoK is the largest k recall is measured at, and what each search asks for.
const locomoK = 10

// memproxyRank stores every turn of each conversation verbatim through the
// memory API's path (learn.Service.Add with infer off), under user_id =
// the conversation, and searches each question in that scope as the
// chat path's user layer does: the embedder's vector and the query text
// (for lexical search, where the store has it). ranked[c][i] is the
// ranking of conversation c's question i, as dia ids; lat the time of
// each store search, embedding left out.
func memproxyRank(ctx context.Context, store memory.Store, emb memory.Embedder, convs []locomoConv, visible func(user string, n int) error) (ranked [][][]string, lat []time.Duration, err error) {
	adder := &learn.Service{Store: store, Embedder: emb}
	for _, c := range convs {
		user := "locomo-" + c.name
		// One request per session, as an app would send a day's turns.
		var msgs []memory.Message
		session := ""
		flush := func() error {
			if len(msgs) == 0 {
				return nil
			}
			_, err := adder.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: user}, Messages: msgs, RequestID: user + "-" + session})
			msgs = nil
			return err
		}
		distinct := map[string]bool{}
		for _, t := range c.turns {
			s, _, _ := cutDia(t.dia)
			if s != session {
				if err := flush(); err != nil {
					return nil, nil, fmt.Errorf("locomo %s: adding: %w", c.name, err)
				}
				session = s
			}
			msgs = append(msgs, memory.Message{Role: "user", Content: t.text})
			distinct[t.text] = true
		}
		if err := flush(); err != nil {
			return nil, nil, fmt.Errorf("locomo %s: adding: %w", c.name, err)
		}
		if visible != nil {
			if err := visible(user, len(distinct)); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, c := range convs {
		user := "locomo-" + c.name
		dias := map[string][]string{} // a text said twice is one memory
		for _, t := range c.turns {
			dias[t.text] = append(dias[t.text], t.dia)
		}
		texts := make([]string, len(c.questions))
		for i, q := range c.questions {
			texts[i] = q.text
		}
		vecs, err := emb.Embed(ctx, texts)
		if err != nil {
			return nil, nil, fmt.Errorf("locomo %s: embedding the questions: %w", c.name, err)
		}
		rs := make([][]string, len(c.questions))
		for i, q := range c.questions {
			start := time.Now()
			// As the chat path searches: the embedder's weight in the
			// fusion, and its relevance floor (memory.Retriever).
			hits, err := store.Search(ctx, memory.SearchRequest{
				Vector: vecs[i], Text: q.text, Filter: memory.UserFilter(user), TopK: locomoK,
				DenseWeight: memory.DenseWeight(emb), MinScore: memory.RelevanceFloor(emb),
			})
			lat = append(lat, time.Since(start))
			if err != nil {
				return nil, nil, fmt.Errorf("locomo %s: searching: %w", c.name, err)
			}
			for _, h := range hits {
				rs[i] = append(rs[i], dias[h.Text]...)
			}
		}
		ranked = append(ranked, rs)
	}
	return ranked, lat, nil
}

func cutDia(dia string) (session, turn string, ok bool) {
	for i := range len(dia) {
		if dia[i] == ':' {
			return dia[:i], dia[i+1:], true
		}
	}
	return dia, "", false
}

// bm25Rank ranks each question's conversation by the benchmark's own BM25.
func bm25Rank(c locomoConv) [][]string {
	texts := make([]string, len(c.turns))
	for i, t := range c.turns {
		texts[i] = t.text
	}
	ix := newBM25(texts)
	out := make([][]string, len(c.questions))
	for i, q := range c.questions {
		for _, d := range ix.rank(q.text) {
			out[i] = append(out[i], c.turns[d].dia)
		}
	}
	return out
}

// denseRank ranks each question's conversation by exact cosine similarity
// of the embedder's vectors, every turn scored.
func denseRank(ctx context.Context, emb memory.Embedder, c locomoConv) ([][]string, error) {
	texts := make([]string, len(c.turns))
	for i, t := range c.turns {
		texts[i] = t.text
	}
	tv, err := emb.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	qs := make([]string, len(c.questions))
	for i, q := range c.questions {
		qs[i] = q.text
	}
	qv, err := emb.Embed(ctx, qs)
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(c.questions))
	for i := range c.questions {
		idx := make([]int, len(c.turns))
		score := make([]float64, len(c.turns))
		for j := range c.turns {
			idx[j], score[j] = j, memory.Cosine(qv[i], tv[j])
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case score[a] > score[b]:
				return -1
			case score[a] < score[b]:
				return 1
			}
			return 0
		})
		for _, j := range idx {
			out[i] = append(out[i], c.turns[j].dia)
		}
	}
	return out, nil
}

// A cachedEmbedder keeps the vectors of an embedder on disk by text, so
// that a rerun of the benchmark does not embed the dev set again. The
// embedder behind it is made on the first text not in the cache.
type cachedEmbedder struct {
	path  string
	name  string
	dims  int
	start func() (memory.Embedder, error)
	inner memory.Embedder
	vecs  map[string][]float32
	dirty bool
}

func openCachedEmbedder(path, name string, dims int, start func() (memory.Embedder, error)) (*cachedEmbedder, error) {
	e := &cachedEmbedder{path: path, name: name, dims: dims, start: start, vecs: map[string][]float32{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("embedding cache: %w", err)
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(&e.vecs); err != nil {
		return nil, fmt.Errorf("embedding cache %s: %w (delete it to start again)", path, err)
	}
	return e, nil
}

func (e *cachedEmbedder) Name() string    { return e.name }
func (e *cachedEmbedder) Dimensions() int { return e.dims }

// Embed is not safe for concurrent use; the quality test embeds from one
// goroutine.
func (e *cachedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	var missing []string
	for _, t := range texts {
		if _, ok := e.vecs[t]; !ok && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	for len(missing) > 0 {
		if e.inner == nil {
			in, err := e.start()
			if err != nil {
				return nil, err
			}
			e.inner = in
		}
		n := min(len(missing), 64)
		vs, err := e.inner.Embed(ctx, missing[:n])
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			e.vecs[missing[i]] = v
		}
		e.dirty = true
		missing = missing[n:]
		// Kept as it goes: the first run embeds for long on a busy
		// machine, and an interrupted one need not start again.
		if err := e.save(); err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = e.vecs[t]
	}
	return out, nil
}

// save writes the cache if anything was added.
func (e *cachedEmbedder) save() error {
	if !e.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(e.path), 0o755); err != nil {
		return fmt.Errorf("embedding cache: %w", err)
	}
	tmp := e.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("embedding cache: %w", err)
	}
	if err := gob.NewEncoder(f).Encode(e.vecs); err != nil {
		f.Close()
		return fmt.Errorf("embedding cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("embedding cache: %w", err)
	}
	if err := os.Rename(tmp, e.path); err != nil {
		return fmt.Errorf("embedding cache: %w", err)
	}
	e.dirty = false
	return nil
}

// startMiniLM starts the MiniLM fixture server and returns the openai
// embedder against it, and a function that stops the server.
func startMiniLM(ctx context.Context, python string) (memory.Embedder, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	srv, err := minilmtest.Start(ctx, python, minilmtest.DefaultScript())
	if err != nil {
		return nil, nil, err
	}
	e, err := embed.NewOpenAI(embed.OpenAIConfig{BaseURL: srv.BaseURL, Model: minilmtest.Model, Dimensions: minilmtest.Dimensions})
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return e, srv.Stop, nil
}
