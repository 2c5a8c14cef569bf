package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Recall wraps its errors in one of these, so that a caller can say which
// part failed without showing the details.
var (
	ErrEmbedding = errors.New("embedder failed")
	ErrSearch    = errors.New("store search failed")
)

// Limits bound one layer of recall. TopK 0 turns the layer off.
type Limits struct {
	TopK int
	// MinScore is the least similarity for a memory to be recalled by
	// meaning (one that shares a word with the query is recalled by its
	// words); 0 means the embedder's RelevanceFloor (no floor for the
	// persona), below 0 no floor.
	MinScore float64
	// Recent recalls the layer's newest memories instead of the ones most
	// similar to the query (MinScore does not apply).
	Recent bool
}

// A RecallRequest asks for the memories relevant to one request.
type RecallRequest struct {
	Identity Identity
	// Query is the recent user text the memories should be relevant to.
	// Empty: the most recent memories of each layer are returned instead.
	Query string

	Persona      Limits // agent_id == A, no user, run or app
	User         Limits // user_id == U
	Relationship Limits // user_id == U and (metadata agent_id == A or agent_id == A)
	Run          Limits // user_id == U and run_id == R

	// ShareRelationships lets the user layer recall the user's
	// relationship memories with other agents too (see UserLayerFilter).
	ShareRelationships bool
}

// Recalled holds the memories of each layer, best first. A memory appears
// in one layer only: persona, then relationship, then run, then user; a
// text already recalled in an earlier layer is not repeated.
type Recalled struct {
	Persona      []Hit
	User         []Hit
	Relationship []Hit
	Run          []Hit

	// Where the time went, for diagnostics and benchmarks.
	EmbedTime  time.Duration
	SearchTime time.Duration
}

// Len is the number of memories recalled.
func (r Recalled) Len() int {
	return len(r.Persona) + len(r.User) + len(r.Relationship) + len(r.Run)
}

// A Retriever recalls memories from a Store, embedding queries with an
// Embedder.
type Retriever struct {
	Store    Store
	Embedder Embedder
	// Personas, when set, answers the persona layer from process memory
	// (see PersonaCache); nil searches the store.
	Personas *PersonaCache
	// ShortLayers, when set, remembers the layers the one search of a
	// user's memories left short, to search them alongside it next time.
	ShortLayers *ShortLayers
	// SearchLayersApart searches each layer with its own store call, the
	// cache unused: the reference the one-search path is tested against.
	SearchLayersApart bool
}

// PersonaFilter selects the persona of agent: its memories that belong to
// nobody else, no user, no run, no app. A memory written with an agent and
// a run is that run's, not the agent's persona: shown to every user it
// would leak whatever the run's user said.
func PersonaFilter(agentID string) Filter {
	return Scope{AgentID: agentID}.Filter()
}

// UserFilter selects every memory of user.
func UserFilter(userID string) Filter { return Eq(FieldUserID, userID) }

// UserLayerFilter selects the memories of user that a request from agent
// may recall as facts about the user: all of them but the user's
// relationship memories with other agents (metadata agent_id, or the
// agent_id field, naming an agent that is not agent). A relationship
// belongs to its user-agent pair: what FitCoach and Sarah share is not
// for her tutor. Without an agent, no relationship memory is selected.
func UserLayerFilter(userID, agentID string) Filter {
	metaAgent := Cmp(FieldAgentID, true, OpExists, nil)
	return And(Eq(FieldUserID, userID),
		Or(Not(metaAgent), MetaEq(FieldAgentID, agentID)),
		Or(Eq(FieldAgentID, ""), Eq(FieldAgentID, agentID)))
}

// RelationshipFilter selects the memories of user that concern agent: by
// the cookbook's convention, metadata agent_id; or the agent_id field when
// the memory was written with both ids.
func RelationshipFilter(userID, agentID string) Filter {
	return And(Eq(FieldUserID, userID), Or(MetaEq(FieldAgentID, agentID), Eq(FieldAgentID, agentID)))
}

// RunFilter selects the memories of user learned in run.
func RunFilter(userID, runID string) Filter {
	return And(Eq(FieldUserID, userID), Eq(FieldRunID, runID))
}

// Recall embeds the query once and searches the layers concurrently. It
// honours ctx: the caller bounds it with its latency budget.
//
// With Personas set, the persona comes from that cache (no store round
// trip while it is fresh). The relationship, run and user layers come
// from one search of the user's memories, split here by each layer's
// filter (see searchUser): one store round trip for them all.
func (r *Retriever) Recall(ctx context.Context, req RecallRequest) (Recalled, error) {
	var out Recalled
	id := req.Identity
	var persona *layer
	var layers []layer
	if id.AgentID != "" && req.Persona.TopK > 0 {
		persona = &layer{&out.Persona, PersonaFilter(id.AgentID), req.Persona, "persona"}
	}
	if id.UserID != "" && id.AgentID != "" && req.Relationship.TopK > 0 {
		layers = append(layers, layer{&out.Relationship, RelationshipFilter(id.UserID, id.AgentID), req.Relationship, "relationship\x00" + id.AgentID})
	}
	if id.UserID != "" && id.RunID != "" && req.Run.TopK > 0 {
		layers = append(layers, layer{&out.Run, RunFilter(id.UserID, id.RunID), req.Run, "run\x00" + id.RunID})
	}
	if id.UserID != "" && req.User.TopK > 0 {
		// Ask for more so that the user layer stays full after the memories
		// that belong to the relationship and run layers are taken out.
		l := req.User
		l.TopK += req.Relationship.TopK + req.Run.TopK
		f := UserLayerFilter(id.UserID, id.AgentID)
		if req.ShareRelationships {
			f = UserFilter(id.UserID)
		}
		layers = append(layers, layer{&out.User, f, l, "user\x00" + id.AgentID})
	}
	if persona == nil && len(layers) == 0 {
		return out, nil
	}

	relevant := persona != nil && !persona.limits.Recent
	for _, l := range layers {
		relevant = relevant || !l.limits.Recent
	}
	var vec []float32
	if req.Query != "" && relevant {
		start := time.Now()
		ectx, span := childSpan(ctx, "memproxy.recall.embed")
		vs, err := r.Embedder.Embed(ectx, []string{req.Query})
		out.EmbedTime = time.Since(start)
		if err != nil {
			err = fmt.Errorf("%w: embedding the query: %w", ErrEmbedding, err)
			endChildSpan(span, err, attribute.String("memproxy.embedder", r.Embedder.Name()))
			return Recalled{}, err
		}
		endChildSpan(span, nil, attribute.String("memproxy.embedder", r.Embedder.Name()))
		vec = vs[0]
	}

	start := time.Now()
	ctx, span := childSpan(ctx, "memproxy.recall.search")
	// The user's layers are grouped by how they are searched: layers of
	// one group are answered by one store call.
	var groups [][]layer
	for _, l := range layers {
		l.limits.MinScore = r.minScore(l, vec, false)
		i := slices.IndexFunc(groups, func(g []layer) bool {
			listed := vec == nil || l.limits.Recent
			return !r.SearchLayersApart && g[0].limits.MinScore == l.limits.MinScore && (vec == nil || g[0].limits.Recent) == listed
		})
		if i < 0 {
			groups = append(groups, nil)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], l)
	}
	errs := make([]error, len(groups)+1)
	var wg sync.WaitGroup
	if persona != nil {
		wg.Go(func() {
			l := *persona
			l.limits.MinScore = r.minScore(l, vec, true)
			if r.Personas != nil && !r.SearchLayersApart {
				hits, ok, err := r.Personas.Search(ctx, id.AgentID, r.request(l, vec, req.Query), l.limits.Recent)
				if err != nil || ok {
					*l.dst, errs[0] = hits, err
					return
				}
			}
			*l.dst, errs[0] = r.searchLayer(ctx, l, vec, req.Query)
		})
	}
	for i, g := range groups {
		wg.Go(func() { errs[i+1] = r.searchUser(ctx, id.UserID, g, vec, req.Query) })
	}
	wg.Wait()
	out.SearchTime = time.Since(start)
	hits := len(out.Persona) + len(out.User) + len(out.Relationship) + len(out.Run)
	nLayers := len(layers)
	if persona != nil {
		nLayers++
	}
	for _, err := range errs {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrSearch, err)
			endChildSpan(span, err, attribute.Int("memproxy.layers", nLayers))
			return Recalled{}, err
		}
	}
	endChildSpan(span, nil, attribute.Int("memproxy.layers", nLayers), attribute.Int("memproxy.hits", hits))

	// Dedup in priority order: persona, relationship, run, user.
	seenID := make(map[string]bool)
	seenText := make(map[string]bool)
	keepNew := func(hs []Hit, limit int) []Hit {
		kept := hs[:0]
		for _, h := range hs {
			key := h.Hash
			if key == "" {
				key = Hash(h.Text)
			}
			if seenID[h.ID] || seenText[key] || len(kept) == limit {
				continue
			}
			seenID[h.ID], seenText[key] = true, true
			kept = append(kept, h)
		}
		return kept
	}
	out.Persona = keepNew(out.Persona, req.Persona.TopK)
	out.Relationship = keepNew(out.Relationship, req.Relationship.TopK)
	out.Run = keepNew(out.Run, req.Run.TopK)
	out.User = keepNew(out.User, req.User.TopK)
	return out, nil
}
