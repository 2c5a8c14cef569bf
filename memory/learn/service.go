package learn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/lexical"
	"github.com/memproxy/memproxy/policies"
)

// Service writes memories: it extracts facts, reconciles them with what is
// stored (exact and near duplicates, and a model's updates and deletes),
// embeds and stores them, and records every change in the history. The
// memory API (Add) and the Writer both go through it, under the learning
// rules of the agent's policy.
type Service struct {
	Store    memory.Store
	Embedder memory.Embedder
	// LLM extracts facts and decides updates in the llm learning mode;
	// without it, an agent whose policy asks for llm is learned in raw mode.
	LLM interface {
		Extractor
		Decider
	}
	// Policies give each agent's learning rules; nil means the defaults.
	Policies policies.Source
	// DupThreshold is the similarity at or above which a fact counts as
	// already known (1 means exact matches only). Default 0.95.
	DupThreshold float64
	// SimilarTopK is how many similar memories each fact is compared with.
	SimilarTopK int
	// MinChars is the shortest fact the raw extractor keeps.
	MinChars int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) policy(agentID string) policies.Policy {
	if s.Policies == nil {
		return policies.Default()
	}
	return s.Policies.For(agentID)
}

// extraction returns the extractor, and the decider if any, of a policy's
// learning mode.
func (s *Service) extraction(l policies.Learn) (Extractor, Decider) {
	if l.Mode == policies.ModeLLM && s.LLM != nil {
		return s.LLM, s.LLM
	}
	return RawExtractor{}, nil
}

// factRequest builds the extraction request of a policy.
func (s *Service) factRequest(l policies.Learn, about Subject) FactRequest {
	minChars := l.MinChars
	if minChars == 0 {
		minChars = s.MinChars
	}
	return FactRequest{About: about, Roles: l.Roles, MinChars: minChars, Instructions: l.Instructions}
}

// keep applies a policy's category rules to facts.
func keep(l policies.Learn, facts []Fact) []Fact {
	out := facts[:0]
	for _, f := range facts {
		if len(l.KeepCategories) > 0 && !slices.Contains(l.KeepCategories, f.Category) || slices.Contains(l.DropCategories, f.Category) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Add remembers the messages of req in req.Scope. Without Infer they are
// stored as they are; with it, under the learning rules of the scope's
// agent: redacted, extracted in its mode, sorted by category.
func (s *Service) Add(ctx context.Context, req memory.AddRequest) ([]memory.Event, error) {
	if req.Scope.IsZero() {
		return nil, memory.ErrNoScope
	}
	w := write{
		scope: req.Scope, metadata: req.Metadata, categories: req.Categories, expires: req.ExpiresAt,
		requestID: req.RequestID,
	}
	if !req.Infer {
		for _, m := range req.Messages {
			if m.Role != "system" && m.Content != "" {
				w.facts = append(w.facts, Fact{Text: m.Content})
			}
		}
		return s.store(ctx, w)
	}
	pol := s.policy(req.Scope.AgentID)
	msgs := make([]memory.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = memory.Message{Role: m.Role, Content: pol.Redact.Redact(m.Content)}
	}
	about := AboutUser
	if req.Scope.UserID == "" {
		about = AboutAgent
	}
	extractor, decider := s.extraction(pol.Learn)
	facts, err := extractor.Facts(ctx, msgs, s.factRequest(pol.Learn, about))
	if err != nil {
		return nil, err
	}
	w.facts = keep(pol.Learn, facts)
	w.known = req.Scope.Filter()
	w.decider = decider
	return s.reconcile(ctx, w)
}

// A write is a set of facts to learn into one scope.
type write struct {
	scope memory.Scope
	facts []Fact
	// known selects the memories a fact is compared with; empty means
	// store without comparing.
	known      memory.Filter
	metadata   map[string]any
	categories []string
	expires    time.Time
	requestID  string
	// actor is the user whose turn the write comes from, for the history:
	// a persona learned from chat has no user in its scope.
	actor string
	// idSeed, when set, makes the ids of update and delete records
	// functions of it and the content, so that applying the same write
	// twice (a replayed turn) records them once. Memory ids and the ids of
	// their ADD records are functions of the content whatever the seed
	// (see contentID).
	idSeed string
	// decider, when set, decides updates and deletes; without it a new
	// fact is added unless it duplicates a stored one.
	decider Decider
}

// reconcile compares each fact with what is known and applies the result.
func (s *Service) reconcile(ctx context.Context, w write) ([]memory.Event, error) {
	var events []memory.Event
	var fresh []string
	category := map[string]string{}
	seen := map[string]bool{}
	for _, fact := range w.facts {
		f := fact.Text
		category[f] = fact.Category
		h := memory.Hash(f)
		if seen[h] {
			continue
		}
		seen[h] = true
		found, err := s.Store.List(ctx, memory.And(w.known, memory.Eq(memory.FieldHash, h)), memory.Page{Limit: 1, Fresh: true})
		if err != nil {
			return nil, fmt.Errorf("%w: checking for duplicates: %w", memory.ErrSearch, err)
		}
		if len(found) > 0 {
			events = append(events, memory.Event{ID: found[0].ID, Text: found[0].Text, Kind: memory.EventNone})
			continue
		}
		fresh = append(fresh, f)
	}
	if len(fresh) == 0 {
		return events, nil
	}
	vecs, err := s.Embedder.Embed(ctx, fresh)
	if err != nil {
		return nil, fmt.Errorf("%w: embedding %d facts: %w", memory.ErrEmbedding, len(fresh), err)
	}
	vecOf := map[string][]float32{}
	for i, f := range fresh {
		vecOf[f] = vecs[i]
	}

	// Near duplicates are known too; the rest go to the Decider with the
	// similar memories they were compared with.
	threshold := s.DupThreshold
	if threshold == 0 {
		threshold = 0.95
	}
	topK := max(s.SimilarTopK, 1)
	var undecided []string
	var similar []memory.Memory
	inSimilar := map[string]bool{}
	for _, f := range fresh {
		hits, err := s.Store.Search(ctx, memory.SearchRequest{Vector: vecOf[f], Filter: w.known, TopK: topK, Fresh: true})
		if err != nil {
			return nil, fmt.Errorf("%w: finding similar memories: %w", memory.ErrSearch, err)
		}
		if len(hits) > 0 && hits[0].Score >= threshold && addsNoTerm(f, hits[0].Text) {
			events = append(events, memory.Event{ID: hits[0].ID, Text: hits[0].Text, Kind: memory.EventNone})
			continue
		}
		undecided = append(undecided, f)
		for _, h := range hits {
			if !inSimilar[h.ID] {
				inSimilar[h.ID] = true
				similar = append(similar, h.Memory)
			}
		}
	}
	if len(undecided) == 0 {
		return events, nil
	}
	decisions := make([]Decision, len(undecided))
	for i, f := range undecided {
		decisions[i] = Decision{Event: memory.EventAdd, Existing: -1, Text: f}
	}
	if w.decider != nil && len(similar) > 0 {
		if decisions, err = w.decider.Decide(ctx, undecided, similar); err != nil {
			return nil, err
		}
	}
	applied, err := s.apply(ctx, w, decisions, similar, vecOf, category)
	return append(events, applied...), err
}

// store adds facts without comparing them with anything.
func (s *Service) store(ctx context.Context, w write) ([]memory.Event, error) {
	if len(w.facts) == 0 {
		return nil, nil
	}
	texts := make([]string, len(w.facts))
	for i, f := range w.facts {
		texts[i] = f.Text
	}
	vecs, err := s.Embedder.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("%w: embedding %d texts: %w", memory.ErrEmbedding, len(texts), err)
	}
	decisions := make([]Decision, len(texts))
	vecOf := map[string][]float32{}
	for i, f := range texts {
		decisions[i] = Decision{Event: memory.EventAdd, Existing: -1, Text: f}
		vecOf[f] = vecs[i]
	}
	return s.apply(ctx, w, decisions, nil, vecOf, nil)
}

// apply carries out decisions. The history records go first: if the
// process dies before the changes are made, the replayed write makes them
// and records them again under the same ids; the other way round, a
// replay would find the change made and never record it.
func (s *Service) apply(ctx context.Context, w write, ds []Decision, existing []memory.Memory, vecOf map[string][]float32, category map[string]string) ([]memory.Event, error) {
	now := s.now()
	var (
		events  []memory.Event
		adds    []memory.Memory
		updates []memory.Memory
		deletes []string
		history []memory.HistoryRecord
	)
	record := func(m memory.Memory, event, oldText, newText string) {
		id := s.id(w, "history", m.ID, event, newText)
		if event == memory.EventAdd {
			id = memory.AddRecordID(m.ID)
		}
		history = append(history, memory.HistoryRecord{
			ID: id, MemoryID: m.ID, Event: event,
			OldText: oldText, NewText: newText, UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID, AppID: m.AppID,
			RequestID: w.requestID, ActorID: w.actor, CreatedAt: now,
		})
	}
	embed := func(text string) ([]float32, error) {
		if v, ok := vecOf[text]; ok {
			return v, nil
		}
		vs, err := s.Embedder.Embed(ctx, []string{text})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", memory.ErrEmbedding, err)
		}
		vecOf[text] = vs[0]
		return vs[0], nil
	}
	added := map[string]bool{}
	for _, d := range ds {
		switch d.Event {
		case memory.EventAdd:
			id, there, err := s.contentID(ctx, w.scope, d.Text)
			if err != nil {
				return nil, err
			}
			if there != nil || added[id] {
				// Already stored (another sidecar, an earlier write, or
				// this one): the same fact in the same scope is one memory.
				if there == nil {
					there = &memory.Memory{ID: id, Text: d.Text}
				}
				events = append(events, memory.Event{ID: there.ID, Text: there.Text, Kind: memory.EventNone})
				continue
			}
			added[id] = true
			v, err := embed(d.Text)
			if err != nil {
				return nil, err
			}
			cats := w.categories
			if len(cats) == 0 && category[d.Text] != "" {
				cats = []string{category[d.Text]}
			}
			m := memory.Memory{
				ID: id, Text: d.Text, Hash: memory.Hash(d.Text),
				UserID: w.scope.UserID, AgentID: w.scope.AgentID, RunID: w.scope.RunID, AppID: w.scope.AppID,
				Metadata: maps.Clone(w.metadata), Categories: cats,
				CreatedAt: now, UpdatedAt: now, ExpiresAt: w.expires, Vector: v,
			}
			adds = append(adds, m)
			record(m, memory.EventAdd, "", m.Text)
			events = append(events, memory.Event{ID: m.ID, Text: m.Text, Kind: memory.EventAdd})
		case memory.EventUpdate:
			old := existing[d.Existing]
			if memory.Hash(old.Text) == memory.Hash(d.Text) {
				events = append(events, memory.Event{ID: old.ID, Text: old.Text, Kind: memory.EventNone})
				continue
			}
			v, err := embed(d.Text)
			if err != nil {
				return nil, err
			}
			m := old
			m.Text, m.Hash, m.Vector, m.UpdatedAt = d.Text, memory.Hash(d.Text), v, now
			updates = append(updates, m)
			record(m, memory.EventUpdate, old.Text, m.Text)
			events = append(events, memory.Event{ID: m.ID, Text: m.Text, OldText: old.Text, Kind: memory.EventUpdate})
		case memory.EventDelete:
			old := existing[d.Existing]
			deletes = append(deletes, old.ID)
			record(old, memory.EventDelete, old.Text, "")
			events = append(events, memory.Event{ID: old.ID, Text: old.Text, OldText: old.Text, Kind: memory.EventDelete})
		case memory.EventNone:
			m := existing[d.Existing]
			events = append(events, memory.Event{ID: m.ID, Text: m.Text, Kind: memory.EventNone})
		}
	}
	if len(history) > 0 {
		if err := s.Store.AddHistory(ctx, history...); err != nil {
			return nil, fmt.Errorf("recording history: %w", err)
		}
	}
	if len(adds) > 0 {
		if err := s.Store.Add(ctx, adds...); err != nil {
			if !errors.Is(err, memory.ErrExists) {
				return nil, fmt.Errorf("storing %d memories: %w", len(adds), err)
			}
			// A replayed write, or another sidecar adding the same fact
			// meanwhile (the same content id): add one by one what is not
			// there yet.
			for _, m := range adds {
				if err := s.Store.Add(ctx, m); err != nil && !errors.Is(err, memory.ErrExists) {
					return nil, fmt.Errorf("storing memory %s: %w", m.ID, err)
				}
			}
		}
	}
	for _, m := range updates {
		// A memory deleted meanwhile has nothing left to update.
		if err := s.Store.Update(ctx, m); err != nil && !errors.Is(err, memory.ErrNotFound) {
			return nil, fmt.Errorf("updating memory %s: %w", m.ID, err)
		}
	}
	if len(deletes) > 0 {
		if err := s.Store.Delete(ctx, deletes...); err != nil {
			return nil, fmt.Errorf("deleting %d memories: %w", len(deletes), err)
		}
	}
	return events, nil
}

// maxContentSlots bounds the ids tried for one fact (see
// memory.ContentID): past them, the fact's every slot holds a memory
// edited to say something else, and the fact gets a random id.
const maxContentSlots = 8

// contentID returns the id under which text is to be added in scope: the
// first of its content ids (memory.ContentID) that is free, or, with the
// memory, the one that already holds the text. The id depends on nothing
// but the scope and the text, so that sidecars adding the same fact at
// once write the same row, and a replayed write finds its own.
func (s *Service) contentID(ctx context.Context, scope memory.Scope, text string) (string, *memory.Memory, error) {
	h := memory.Hash(text)
	for slot := range maxContentSlots {
		id := memory.ContentID(scope, text, slot)
		m, err := s.Store.Get(ctx, id)
		if errors.Is(err, memory.ErrNotFound) {
			return id, nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("%w: reading memory %s: %w", memory.ErrSearch, id, err)
		}
		if m.Hash == h {
			return id, &m, nil
		}
	}
	return memory.NewID(), nil, nil
}

// id returns a new random id, or, for a write with an id seed, one derived
// from the seed and parts.
func (s *Service) id(w write, parts ...string) string {
	if w.idSeed == "" {
		return memory.NewID()
	}
	// Not uuid.NewSHA1: ids already stored were made this way (SHA-256,
	// marked version 5), and a replayed turn must find them again.
	sum := sha256.Sum256([]byte(w.idSeed + "\x00" + strings.Join(parts, "\x00")))
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5: name-based
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// addsNoTerm reports whether every term of fact (lexical.Terms) is in
// stored: a fact as similar as a near duplicate that says something the
// stored memory does not ("I ran 5K today" beside "I ran 3K today",
// whose vectors a static embedder puts at 0.97) is a new fact.
func addsNoTerm(fact, stored string) bool {
	have := make(map[string]bool)
	for _, t := range lexical.Terms(stored) {
		have[t] = true
	}
	for _, t := range lexical.Terms(fact) {
		if !have[t] {
			return false
		}
	}
	return true
}
