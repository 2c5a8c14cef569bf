package proxy

import (
	"context"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
)

// An ExplainRequest asks what the sidecar would do for an agent and user.
type ExplainRequest struct {
	AgentID string `json:"agent_id"`
	UserID  string `json:"user_id"`
	RunID   string `json:"run_id"`
	// Query is the user message recall would be for; Message one the user
	// might send, to see what would be learned from it.
	Query   string `json:"query"`
	Message string `json:"message"`
	// Model is the model the request would name: it chooses the encoding
	// the block's tokens are counted in (see injector.EncodingFor).
	Model string `json:"model,omitempty"`
}

// An Explanation is what operators see of a policy at work.
type Explanation struct {
	Request ExplainRequest `json:"request"`
	Rule    string         `json:"rule"`
	Recall  explainRecall  `json:"recall"`
	Learn   explainLearn   `json:"learn"`
	Redact  []string       `json:"redact"`
	// Recalled is what recall finds now, layer by layer (with a user or
	// agent); Block the memory block it makes, and its estimated tokens.
	Recalled    map[string][]explainHit `json:"recalled,omitempty"`
	RecallError string                  `json:"recall_error,omitempty"`
	Block       string                  `json:"block,omitempty"`
	BlockTokens int                     `json:"block_tokens,omitempty"`
	// WouldStore is what learning keeps of Message: redacted, extracted
	// the raw way, filtered by category.
	WouldStore []explainFact `json:"would_store,omitempty"`
}

type explainRecall struct {
	Enabled     bool                    `json:"enabled"`
	Layers      map[string]explainLayer `json:"layers"`
	TokenBudget int                     `json:"token_budget"`
	Order       string                  `json:"order"`
	Query       string                  `json:"query"`
	Wording     explainWording          `json:"wording"`
	// ShareRelationships: the user layer recalls relationships with
	// other agents too.
	ShareRelationships bool `json:"share_relationships"`
}

type explainWording struct {
	Preamble     string `json:"preamble"`
	Persona      string `json:"persona"`
	User         string `json:"user"`
	Relationship string `json:"relationship"`
	Run          string `json:"run"`
}

type explainLayer struct {
	Enabled     bool    `json:"enabled"`
	TopK        int     `json:"top_k"`
	MinScore    float64 `json:"min_score"`
	TokenBudget int     `json:"token_budget,omitempty"`
}

type explainLearn struct {
	Enabled            bool     `json:"enabled"`
	Mode               string   `json:"mode"`
	Roles              []string `json:"roles"`
	MinChars           int      `json:"min_chars"`
	SkipPatterns       []string `json:"skip_patterns,omitempty"`
	KeepCategories     []string `json:"keep_categories,omitempty"`
	DropCategories     []string `json:"drop_categories,omitempty"`
	TTL                string   `json:"ttl,omitempty"`
	PersonaFromReplies bool     `json:"persona_from_replies"`
	Scope              string   `json:"scope"`
	Instructions       string   `json:"instructions,omitempty"`
}

type explainHit struct {
	ID     string  `json:"id"`
	Memory string  `json:"memory"`
	Score  float64 `json:"score"`
}

type explainFact struct {
	Memory   string `json:"memory"`
	Category string `json:"category"`
}

// Explain says which rule governs a request and what it would recall and
// learn. recaller may be nil: then nothing is recalled. The memory API's
// /memproxy/explain (package memapi) and the `memproxy policy explain`
// command share it.
func Explain(ctx context.Context, src policies.Source, recaller Recaller, req ExplainRequest) Explanation {
	pol := src.For(req.AgentID)
	layer := func(l policies.Layer) explainLayer {
		return explainLayer{Enabled: l.Enabled, TopK: l.TopK, MinScore: l.MinScore, TokenBudget: l.TokenBudget}
	}
	query := pol.Recall.QuerySource
	if query == policies.QueryLastN {
		query = fmt.Sprintf("last %d messages", pol.Recall.QueryN)
	}
	e := Explanation{
		Request: req, Rule: pol.Name, Redact: pol.Redact.Types(),
		Recall: explainRecall{
			Enabled: pol.Recall.Enabled, TokenBudget: pol.Recall.TokenBudget, Order: pol.Recall.Order, Query: query,
			Wording:            explainWording(blockOptions(pol.Recall).Wording.Resolve()),
			ShareRelationships: pol.Recall.ShareRelationships,
			Layers: map[string]explainLayer{
				"persona": layer(pol.Recall.Persona), "user": layer(pol.Recall.User),
				"relationship": layer(pol.Recall.Relationship), "run": layer(pol.Recall.Run),
			},
		},
		Learn: explainLearn{
			Enabled: pol.Learn.Enabled, Mode: pol.Learn.Mode, Roles: pol.Learn.Roles, MinChars: pol.Learn.MinChars,
			KeepCategories: pol.Learn.KeepCategories, DropCategories: pol.Learn.DropCategories,
			PersonaFromReplies: pol.Learn.PersonaFromReplies, Scope: pol.Learn.Scope, Instructions: pol.Learn.Instructions,
		},
	}
	for _, p := range pol.Learn.Skip {
		e.Learn.SkipPatterns = append(e.Learn.SkipPatterns, p.Source)
	}
	if pol.Learn.TTL > 0 {
		e.Learn.TTL = pol.Learn.TTL.String()
	}
	if req.Message != "" {
		for _, f := range learn.Preview(pol, []string{req.Message}) {
			e.WouldStore = append(e.WouldStore, explainFact{Memory: f.Text, Category: f.Category})
		}
	}
	id := memory.Identity{UserID: req.UserID, AgentID: req.AgentID, RunID: req.RunID}
	if recaller == nil || id.IsZero() || !pol.Recall.Enabled {
		return e
	}
	recent := pol.Recall.Order == policies.OrderRecency
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec, err := recaller.Recall(rctx, memory.RecallRequest{
		Identity: id, Query: req.Query,
		Persona: limits(pol.Recall.Persona, recent), User: limits(pol.Recall.User, recent),
		Relationship: limits(pol.Recall.Relationship, recent), Run: limits(pol.Recall.Run, recent),
		ShareRelationships: pol.Recall.ShareRelationships,
	})
	if err != nil {
		e.RecallError = err.Error()
		return e
	}
	hits := func(hs []memory.Hit) []explainHit {
		out := []explainHit{}
		for _, h := range hs {
			out = append(out, explainHit{ID: h.ID, Memory: h.Text, Score: h.Score})
		}
		return out
	}
	e.Recalled = map[string][]explainHit{
		"persona": hits(rec.Persona), "user": hits(rec.User), "relationship": hits(rec.Relationship), "run": hits(rec.Run),
	}
	var res injector.Result
	opts := blockOptions(pol.Recall)
	opts.Model = req.Model
	e.Block, res = injector.Block(memoriesOf(rec), opts)
	e.BlockTokens = res.Tokens
	return e
}
