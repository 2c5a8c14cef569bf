// Package storetest is the conformance suite every memory.Store passes:
// the embedded store in its tests, the Milvus store against a real server.
// It checks stores against the reference semantics of memory.Filter.Match,
// so that the two stores answer every query the same way.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// MilvusServers returns the Milvus-protocol servers scripts/test.sh
// started, by name ("lite", "standalone"). Without them the test skips,
// unless MEMPROXY_REQUIRE_SDKS is set (as scripts/test.sh does), which
// makes a missing server a failure.
func MilvusServers(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, env := range map[string]string{"lite": "MEMPROXY_TEST_MILVUS_LITE", "standalone": "MEMPROXY_TEST_MILVUS_STANDALONE"} {
		if addr := os.Getenv(env); addr != "" {
			out[name] = addr
		} else if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
			t.Errorf("%s is not set; scripts/test.sh starts the Milvus servers", env)
		}
	}
	if len(out) == 0 {
		t.Skip("no Milvus server (MEMPROXY_TEST_MILVUS_LITE, MEMPROXY_TEST_MILVUS_STANDALONE); run scripts/test.sh")
	}
	return out
}

// Dims is the vector dimension the suite uses.
const Dims = 16

// Opener returns a new, empty store for vectors of Dims dimensions, and
// arranges its cleanup.
type Opener func(t *testing.T) memory.Store

// Options tune the suite for slower stores.
type Options struct {
	// HostileIDs is how many random hostile ids the isolation test tries
	// (1,000 by default).
	HostileIDs int
}

// Run runs the whole suite.
func Run(t *testing.T, open Opener, opts Options) {
	if opts.HostileIDs == 0 {
		opts.HostileIDs = 1000
	}
	t.Run("CRUD", func(t *testing.T) { testCRUD(t, open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t)) })
	t.Run("SearchOrderAndLimits", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("ScopeIsolation", func(t *testing.T) { testIsolation(t, open(t)) })
	t.Run("HostileIDs", func(t *testing.T) { testHostileIDs(t, open(t), opts.HostileIDs) })
	t.Run("Metadata", func(t *testing.T) { testMetadata(t, open(t)) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open(t)) })
	t.Run("ListPages", func(t *testing.T) { testPages(t, open(t)) })
	t.Run("Scan", func(t *testing.T) { testScan(t, open(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("History", func(t *testing.T) { testHistory(t, open(t)) })
}

// Vec returns a deterministic unit vector for seed.
func Vec(seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 42))
	v := make([]float32, Dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return memory.Normalize(v)
}

var clock = time.Date(2025, 1, 23, 10, 0, 0, 0, time.UTC)

// mem builds a memory; n orders creation times.
func mem(n int, text string, scope memory.Scope, meta map[string]any, cats ...string) memory.Memory {
	t := clock.Add(time.Duration(n) * time.Minute)
	return memory.Memory{
		ID: memory.NewID(), Text: text, Hash: memory.Hash(text),
		UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID, AppID: scope.AppID,
		Metadata: meta, Categories: cats, CreatedAt: t, UpdatedAt: t, Vector: Vec(uint64(n)),
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustAdd(t *testing.T, s memory.Store, ms ...memory.Memory) {
	t.Helper()
	if err := s.Add(ctx(t), ms...); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	sort.Strings(out)
	return out
}

func memID(m memory.Memory) string { return m.ID }
func hitID(h memory.Hit) string    { return h.ID }

func testCRUD(t *testing.T, s memory.Store) {
	m := mem(1, "Goal: half marathon by June", memory.Scope{UserID: "sarah"}, map[string]any{"type": "profile"}, "fitness")
	mustAdd(t, s, m)

	got, err := s.Get(ctx(t), m.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Text != m.Text || got.UserID != "sarah" || got.Hash != m.Hash || got.Metadata["type"] != "profile" ||
		!slices.Equal(got.Categories, []string{"fitness"}) || !got.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("Get = %+v, want %+v", got, m)
	}
	if len(got.Vector) != Dims || math.Abs(memory.Cosine(got.Vector, m.Vector)-1) > 1e-4 {
		t.Errorf("Get returned a different vector")
	}

	other := mem(3, "another", memory.Scope{UserID: "sarah"}, nil)
	if err := s.Add(ctx(t), other, m); !errors.Is(err, memory.ErrExists) {
		t.Errorf("adding an existing id: %v, want ErrExists", err)
	}
	if _, err := s.Get(ctx(t), other.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("a failed Add wrote part of its batch")
	}

	m.Text, m.Hash, m.UpdatedAt = "Goal: full marathon by October", memory.Hash("Goal: full marathon by October"), clock.Add(time.Hour)
	m.Vector = Vec(99)
	if err := s.Update(ctx(t), m); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, _ = s.Get(ctx(t), m.ID)
	if got.Text != m.Text || !got.UpdatedAt.Equal(m.UpdatedAt) {
		t.Errorf("after Update: %+v", got)
	}
	hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: Vec(99), Filter: memory.UserFilter("sarah"), TopK: 1, Fresh: true})
	if err != nil || len(hits) != 1 || hits[0].Score < 0.999 {
		t.Errorf("search for the updated vector: %+v, %v", hits, err)
	}

	unknown := mem(2, "x", memory.Scope{UserID: "sarah"}, nil)
	if err := s.Update(ctx(t), unknown); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Update of an unknown id: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), m.ID, "no-such-id"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx(t), m.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if n, _ := s.Count(ctx(t), memory.Filter{}); n != 0 {
		t.Errorf("Count after Delete = %d", n)
	}
}

// corpus is a fixed set of memories that exercises every filter.
func corpus() []memory.Memory {
	return []memory.Memory{
		mem(1, "I'm FitCoach - supportive and motivational", memory.Scope{AgentID: "fitcoach_v1"}, map[string]any{"type": "personality"}),
		mem(2, "I provide concrete metrics", memory.Scope{AgentID: "fitcoach_v2"}, map[string]any{"type": "personality", "version": 2.0}),
		mem(3, "Goal: Run a half marathon by June", memory.Scope{UserID: "sarah"}, map[string]any{"type": "profile"}, "goals", "running"),
		mem(4, "Inside joke: No pain, no protein shake", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1", "type": "relationship"}),
		mem(5, "Completed 8K run in 45 minutes", memory.Scope{UserID: "sarah", RunID: "session-1"}, map[string]any{"type": "workout", "km": 8.0, "pr": true, "tags": []any{"run", "pr"}}, "workouts"),
		mem(6, "Bench press: 185 lbs x 10 reps", memory.Scope{UserID: "mike"}, map[string]any{"type": "workout", "km": 0.0, "lbs": 185.0}, "workouts", "strength"),
		mem(7, "Mike prefers data-driven feedback", memory.Scope{UserID: "mike", AgentID: "fitcoach_v2"}, map[string]any{"agent_id": "fitcoach_v2", "type": "relationship"}),
		mem(8, "Bought groceries for $127.43", memory.Scope{UserID: "sarah", AppID: "finance"}, nil),
		mem(9, "completed 5k RUN in 28 minutes", memory.Scope{UserID: "SARAH"}, map[string]any{"Type": "workout"}),
	}
}

func filterCases() []struct {
	name string
	f    memory.Filter
} {
	E, M, C := memory.Eq, memory.MetaEq, memory.Cmp
	return []struct {
		name string
		f    memory.Filter
	}{
		{"everything", memory.Filter{}},
		{"user eq", E(memory.FieldUserID, "sarah")},
		{"user eq is case-sensitive", E(memory.FieldUserID, "Sarah")},
		{"no user (personas)", E(memory.FieldUserID, "")},
		{"persona", memory.PersonaFilter("fitcoach_v1")},
		{"relationship", memory.RelationshipFilter("sarah", "fitcoach_v1")},
		{"relationship by field", memory.RelationshipFilter("mike", "fitcoach_v2")},
		{"OR agent or user", memory.Or(E(memory.FieldAgentID, "fitcoach_v1"), E(memory.FieldUserID, "sarah"))},
		{"user ne", C(memory.FieldUserID, false, memory.OpNe, "sarah")},
		{"user in", C(memory.FieldUserID, false, memory.OpIn, []any{"sarah", "mike"})},
		{"user nin", C(memory.FieldUserID, false, memory.OpNin, []any{"sarah", ""})},
		{"agent in", C(memory.FieldAgentID, false, memory.OpIn, []any{"fitcoach_v1", "fitcoach_v2"})},
		{"run eq", E(memory.FieldRunID, "session-1")},
		{"app eq", E(memory.FieldAppID, "finance")},
		{"run exists", C(memory.FieldRunID, false, memory.OpExists, nil)},
		{"agent exists", C(memory.FieldAgentID, false, memory.OpExists, nil)},
		{"text contains", C(memory.FieldText, false, memory.OpContains, "run")},
		{"text icontains", C(memory.FieldText, false, memory.OpIContains, "RUN")},
		{"text contains quote", C(memory.FieldText, false, memory.OpContains, `"`)},
		{"text contains percent", C(memory.FieldText, false, memory.OpContains, "%")},
		{"text contains underscore", C(memory.FieldText, false, memory.OpContains, "_")},
		{"hash eq", E(memory.FieldHash, memory.Hash("Bench press: 185 lbs x 10 reps"))},
		{"categories contains", C(memory.FieldCategories, false, memory.OpContains, "workouts")},
		{"categories in", C(memory.FieldCategories, false, memory.OpIn, []any{"goals", "strength"})},
		{"categories exist", C(memory.FieldCategories, false, memory.OpExists, nil)},
		{"meta eq", M("type", "workout")},
		{"meta key is case-sensitive", M("Type", "workout")},
		{"meta agent", M("agent_id", "fitcoach_v1")},
		{"meta ne (missing key matches nothing)", C("type", true, memory.OpNe, "workout")},
		{"meta in", C("type", true, memory.OpIn, []any{"profile", "personality"})},
		{"meta nin", C("type", true, memory.OpNin, []any{"profile", "personality"})},
		{"meta number eq", M("km", 8.0)},
		{"meta number gt", C("km", true, memory.OpGt, 1.0)},
		{"meta number gte", C("km", true, memory.OpGte, 0.0)},
		{"meta number lt", C("lbs", true, memory.OpLt, 200.0)},
		{"meta number lte", C("version", true, memory.OpLte, 2.0)},
		{"meta bool", M("pr", true)},
		{"meta exists", C("km", true, memory.OpExists, nil)},
		{"meta array contains", C("tags", true, memory.OpContains, "pr")},
		{"meta string contains", C("type", true, memory.OpContains, "ork")},
		{"meta icontains", C("type", true, memory.OpIContains, "WORK")},
		{"created gt", C(memory.FieldCreatedAt, false, memory.OpGt, clock.Add(4*time.Minute))},
		{"created lte", C(memory.FieldCreatedAt, false, memory.OpLte, clock.Add(2*time.Minute))},
		{"updated gte", C(memory.FieldUpdatedAt, false, memory.OpGte, clock.Add(8*time.Minute))},
		{"AND", memory.And(E(memory.FieldUserID, "sarah"), M("type", "workout"))},
		{"NOT", memory.Not(E(memory.FieldUserID, "sarah"))},
		{"NOT of two", memory.Not(E(memory.FieldUserID, "sarah"), E(memory.FieldUserID, ""))},
		{"nested", memory.And(memory.Or(E(memory.FieldUserID, "sarah"), E(memory.FieldUserID, "mike")),
			memory.Not(M("type", "relationship")), C("km", true, memory.OpGte, 0.0))},
		{"OR of metadata", memory.Or(M("type", "profile"), M("agent_id", "fitcoach_v2"))},
	}
}

// testFilters checks List, Count and Search against Filter.Match for every
// operator.
func testFilters(t *testing.T, s memory.Store) {
	ms := corpus()
	mustAdd(t, s, ms...)
	for _, tc := range filterCases() {
		if err := tc.f.Validate(); err != nil {
			t.Fatalf("%s: invalid filter: %v", tc.name, err)
		}
		var want []string
		for i := range ms {
			if tc.f.Match(&ms[i]) {
				want = append(want, ms[i].ID)
			}
		}
		sort.Strings(want)
		got, err := s.List(ctx(t), tc.f, memory.Page{Fresh: true})
		if err != nil {
			t.Errorf("%s: List: %v", tc.name, err)
			continue
		}
		if g := idsOf(got, memID); !slices.Equal(g, want) {
			t.Errorf("%s: List = %v, want %v", tc.name, texts(ms, g), texts(ms, want))
		}
		n, err := s.Count(ctx(t), tc.f)
		if err != nil || n != len(want) {
			t.Errorf("%s: Count = %d, %v; want %d", tc.name, n, err, len(want))
		}
		scanned, err := s.Scan(ctx(t), tc.f, "", 100)
		if err != nil {
			t.Errorf("%s: Scan: %v", tc.name, err)
		} else if g := idsInOrder(scanned); !slices.Equal(g, want) {
			t.Errorf("%s: Scan = %v, want %v in id order", tc.name, texts(ms, g), texts(ms, want))
		}
		hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: Vec(1000), Filter: tc.f, TopK: 100, Fresh: true})
		if err != nil {
			t.Errorf("%s: Search: %v", tc.name, err)
			continue
		}
		if g := idsOf(hits, hitID); !slices.Equal(g, want) {
			t.Errorf("%s: Search = %v, want %v", tc.name, texts(ms, g), texts(ms, want))
		}
	}
}

func texts(ms []memory.Memory, ids []string) []string {
	var out []string
	for _, id := range ids {
		for _, m := range ms {
			if m.ID == id {
				out = append(out, m.Text)
			}
		}
	}
	return out
}

func testSearch(t *testing.T, s memory.Store) {
	var ms []memory.Memory
	for i := range 50 {
		ms = append(ms, mem(i, fmt.Sprintf("fact %d", i), memory.Scope{UserID: "u"}, nil))
	}
	mustAdd(t, s, ms...)
	q := Vec(7) // the vector of "fact 7"
	hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: q, Filter: memory.UserFilter("u"), TopK: 10, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 10 {
		t.Fatalf("TopK 10 gave %d hits", len(hits))
	}
	if hits[0].Text != "fact 7" || hits[0].Score < 0.999 {
		t.Errorf("best hit = %q (%.4f), want the identical vector with score 1", hits[0].Text, hits[0].Score)
	}
	// Exact: the hits are the true top 10 by cosine, in order.
	type sc struct {
		id    string
		score float64
	}
	var all []sc
	for _, m := range ms {
		all = append(all, sc{m.ID, memory.Score(memory.Cosine(q, m.Vector))})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
	for i, h := range hits {
		if h.Score < 0 || h.Score > 1 {
			t.Errorf("score %f outside [0,1]", h.Score)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("hits out of order at %d", i)
		}
		if math.Abs(h.Score-all[i].score) > 1e-3 {
			t.Errorf("hit %d has score %.4f, the exact %d-th best is %.4f", i, h.Score, i, all[i].score)
		}
	}
	floor := all[5].score - 1e-4
	hits, err = s.Search(ctx(t), memory.SearchRequest{Vector: q, Filter: memory.UserFilter("u"), TopK: 50, MinScore: floor, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 6 {
		t.Errorf("MinScore %.4f kept %d hits, want 6", floor, len(hits))
	}
	if hits, _ := s.Search(ctx(t), memory.SearchRequest{Vector: q, Filter: memory.UserFilter("nobody"), TopK: 5, Fresh: true}); len(hits) != 0 {
		t.Errorf("search in an empty scope found %d", len(hits))
	}
}

func testIsolation(t *testing.T, s memory.Store) {
	users := []string{"sarah", "mike", "sarah_123", "Sarah", "sarah ", " sarah"}
	var ms []memory.Memory
	for i, u := range users {
		for j := range 3 {
			ms = append(ms, mem(i*10+j, fmt.Sprintf("%s fact %d", u, j), memory.Scope{UserID: u}, nil))
		}
	}
	mustAdd(t, s, ms...)
	for _, u := range users {
		hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: Vec(3), Filter: memory.UserFilter(u), TopK: 100, Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 3 {
			t.Errorf("user %q sees %d memories, want 3", u, len(hits))
		}
		for _, h := range hits {
			if h.UserID != u {
				t.Errorf("user %q sees %q's memory %q", u, h.UserID, h.Text)
			}
		}
	}
}

// HostileID returns a random id built from the pieces of query injection:
// quotes, backslashes, operators, keywords, unicode, and very long runs.
func HostileID(r *rand.Rand) string {
	pieces := []string{`"`, `'`, `\`, `\"`, `\\`, ` or `, ` OR `, ` and `, `!=`, `==`, ` != "`, `" or user_id != "`,
		`' or '1'='1`, `)`, `(`, `]`, `[`, `{uid}`, `%`, `_`, `*`, `like`, `not`, `in`, `;`, `--`, `/*`, `#`,
		"☃", "é", "\u202e", "𝔘", "用户", " ", "\t", "x", "sarah", "user_id", "metadata[\"agent_id\"]", "${x}", "$$", "0x", "1e9"}
	var b strings.Builder
	n := r.IntN(8)
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	if r.IntN(20) == 0 {
		b.WriteString(strings.Repeat("A", 200))
	}
	return b.String()
}

// testHostileIDs gives each of n hostile ids a memory and checks that the
// id reads, counts and deletes exactly its own.
func testHostileIDs(t *testing.T, s memory.Store, n int) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{"": true, "sarah": true} // "sarah" is the bystander
	var ids []string
	for len(ids) < n {
		id := HostileID(r)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	bystander := mem(0, "Sarah's private goal", memory.Scope{UserID: "sarah", AgentID: "fitcoach_v1"}, map[string]any{"agent_id": "fitcoach_v1"})
	ms := []memory.Memory{bystander}
	for i, id := range ids {
		ms = append(ms, mem(i+1, "memory of hostile user", memory.Scope{UserID: id, AgentID: id}, map[string]any{"agent_id": id}))
	}
	for i := 0; i < len(ms); i += 200 {
		mustAdd(t, s, ms[i:min(i+200, len(ms))]...)
	}
	// The ids are checked concurrently: a server store answers each read
	// in a round trip, and a thousand ids in sequence would take minutes.
	err := parallel(len(ids), func(i int) error {
		id, want := ids[i], ms[i+1].ID
		for name, f := range map[string]memory.Filter{
			"user":         memory.UserFilter(id),
			"persona":      memory.And(memory.Eq(memory.FieldAgentID, id), memory.Eq(memory.FieldUserID, id)),
			"relationship": memory.RelationshipFilter(id, id),
			"metadata":     memory.MetaEq("agent_id", id),
		} {
			got, err := s.List(ctx(t), f, memory.Page{Fresh: true})
			if err != nil {
				return fmt.Errorf("id %q: %s filter: %v", id, name, err)
			}
			if len(got) != 1 || got[0].ID != want {
				return fmt.Errorf("id %q: %s filter found %d memories (%v), want exactly its own", id, name, len(got), texts(ms, idsOf(got, memID)))
			}
		}
		if i%10 == 0 {
			hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: Vec(0), Filter: memory.UserFilter(id), TopK: 10, Fresh: true})
			if err != nil || len(hits) != 1 || hits[0].ID != want {
				return fmt.Errorf("id %q: search found %d (%v)", id, len(hits), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Deleting every hostile id's memories, each by a filter on its own
	// id, leaves the bystander alone.
	err = parallel(len(ids), func(i int) error {
		got, err := s.List(ctx(t), memory.UserFilter(ids[i]), memory.Page{Fresh: true})
		if err != nil {
			return err
		}
		return s.Delete(ctx(t), idsOf(got, memID)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	left, err := s.List(ctx(t), memory.Filter{}, memory.Page{Fresh: true})
	if err != nil || len(left) != 1 || left[0].ID != bystander.ID {
		t.Errorf("after deleting every hostile id's memories, left: %d (%v)", len(left), err)
	}
}

// parallel calls fn(0) to fn(n-1) from a few goroutines and returns the
// first error, after which it starts no more calls.
func parallel(n int, fn func(i int) error) error {
	const workers = 16
	next := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

func testMetadata(t *testing.T, s memory.Store) {
	meta := map[string]any{
		"agent_id": "fitcoach_v1", "n": 3.5, "ok": true, "nested": map[string]any{"a": []any{"x", 1.0}},
		"quote": `he said "hi" \ bye`, "unicode": "☃ é 用户",
	}
	m := mem(1, `text with "quotes", \backslashes\ and unicode ☃`, memory.Scope{UserID: "u", AgentID: "a", RunID: "r", AppID: "p"}, meta, "c1", "c 2")
	mustAdd(t, s, m)
	got, err := s.Get(ctx(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Metadata) != fmt.Sprint(meta) || got.Text != m.Text || !slices.Equal(got.Categories, m.Categories) ||
		got.RunID != "r" || got.AppID != "p" || got.AgentID != "a" {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
	}
	// Returned memories are copies: changing one changes nothing stored.
	got.Metadata["agent_id"] = "changed"
	again, _ := s.Get(ctx(t), m.ID)
	if again.Metadata["agent_id"] != "fitcoach_v1" {
		t.Errorf("changing a returned memory changed the store")
	}
	noMeta := mem(2, "no metadata", memory.Scope{UserID: "u"}, nil)
	mustAdd(t, s, noMeta)
	if got, err := s.Get(ctx(t), noMeta.ID); err != nil || len(got.Metadata) != 0 {
		t.Errorf("memory without metadata came back with %v, %v", got.Metadata, err)
	}
}

func testExpiry(t *testing.T, s memory.Store) {
	live := mem(1, "still true", memory.Scope{UserID: "u"}, nil)
	live.ExpiresAt = time.Now().Add(time.Hour)
	dead := mem(2, "no longer true", memory.Scope{UserID: "u"}, nil)
	dead.ExpiresAt = time.Now().Add(-time.Minute)
	mustAdd(t, s, live, dead)
	if _, err := s.Get(ctx(t), dead.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Get of an expired memory: %v, want ErrNotFound", err)
	}
	got, _ := s.List(ctx(t), memory.UserFilter("u"), memory.Page{Fresh: true})
	if len(got) != 1 || got[0].ID != live.ID {
		t.Errorf("List shows %v, want only the live memory", texts([]memory.Memory{live, dead}, idsOf(got, memID)))
	}
	if n, _ := s.Count(ctx(t), memory.UserFilter("u")); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
	hits, _ := s.Search(ctx(t), memory.SearchRequest{Vector: dead.Vector, Filter: memory.UserFilter("u"), TopK: 5, Fresh: true})
	if len(hits) != 1 || hits[0].ID != live.ID {
		t.Errorf("Search shows %d hits, want only the live memory", len(hits))
	}
	if g, _ := s.Get(ctx(t), live.ID); !g.ExpiresAt.Equal(live.ExpiresAt.Truncate(time.Millisecond)) && !g.ExpiresAt.Equal(live.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", g.ExpiresAt, live.ExpiresAt)
	}
	// Deletion must find expired memories: invisible is not gone.
	all, err := s.Scan(ctx(t), memory.UserFilter("u"), "", 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("Scan = %d memories, %v; want both, the expired one too", len(all), err)
	}
	if err := s.Delete(ctx(t), dead.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Scan(ctx(t), memory.UserFilter("u"), "", 10); len(all) != 1 || all[0].ID != live.ID {
		t.Errorf("after deleting the expired memory, Scan = %d memories, want the live one", len(all))
	}
}

func testPages(t *testing.T, s memory.Store) {
	var ms []memory.Memory
	for i := range 25 {
		ms = append(ms, mem(i, fmt.Sprintf("fact %02d", i), memory.Scope{UserID: "u"}, nil))
	}
	mustAdd(t, s, ms...)
	var got []string
	for off := 0; off < 30; off += 10 {
		page, err := s.List(ctx(t), memory.UserFilter("u"), memory.Page{Offset: off, Limit: 10, Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got = append(got, m.Text)
		}
	}
	if len(got) != 25 || got[0] != "fact 24" || got[24] != "fact 00" {
		t.Errorf("pages = %v, want all 25, newest first", got)
	}
}

// idsInOrder returns the ids of ms as they come.
func idsInOrder(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// testScan walks memories in id order, a page at a time, with ids that
// sort in every way strings can: quotes, backslashes, operators, unicode,
// prefixes of one another.
func testScan(t *testing.T, s memory.Store) {
	r := rand.New(rand.NewPCG(3, 4))
	ids := []string{"a", "a ", "a\"", "a\\", "a\\\"", "ab", "b", "B", "0", "~", "é", "e\u0301", "☃", "𝔘", "用户", `x" or id != "`}
	seen := map[string]bool{"": true}
	for _, id := range ids {
		seen[id] = true
	}
	for len(ids) < 200 {
		// Ids longer than 128 bytes are left out: the Milvus store keeps
		// ids of at most 256.
		if id := HostileID(r); !seen[id] && len(id) <= 128 {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var ms []memory.Memory
	var want, wantU []string
	for i, id := range ids {
		user := "u"
		if i%3 == 0 {
			user = "v"
		}
		m := mem(i, fmt.Sprintf("fact %d", i), memory.Scope{UserID: user}, nil)
		m.ID = id
		ms = append(ms, m)
		want = append(want, id)
		if user == "u" {
			wantU = append(wantU, id)
		}
	}
	expired := mem(1000, "expired", memory.Scope{UserID: "u"}, nil)
	expired.ID, expired.ExpiresAt = "c-expired", time.Now().Add(-time.Minute)
	ms = append(ms, expired)
	// Scan walks what is stored: the expired memory too.
	want, wantU = append(want, expired.ID), append(wantU, expired.ID)
	for i := 0; i < len(ms); i += 100 {
		mustAdd(t, s, ms[i:min(i+100, len(ms))]...)
	}
	sort.Strings(want)
	sort.Strings(wantU)
	walk := func(f memory.Filter, page int) []string {
		var got []string
		after := ""
		for range len(ms) + 1 {
			batch, err := s.Scan(ctx(t), f, after, page)
			if err != nil {
				t.Fatalf("Scan after %q: %v", after, err)
			}
			if len(batch) > page {
				t.Fatalf("Scan with limit %d returned %d", page, len(batch))
			}
			for _, m := range batch {
				if m.Vector != nil {
					t.Errorf("Scan returned the vector of %q", m.ID)
				}
				if m.Text == "" {
					t.Errorf("Scan returned %q without its text", m.ID)
				}
			}
			got = append(got, idsInOrder(batch)...)
			if len(batch) == 0 {
				return got
			}
			after = batch[len(batch)-1].ID
		}
		t.Fatalf("Scan never ended")
		return nil
	}
	for _, page := range []int{1, 7, 1000} {
		if got := walk(memory.Filter{}, page); !slices.Equal(got, want) {
			t.Errorf("walking everything in pages of %d: %d ids, want %d in byte order;\n got %q\nwant %q", page, len(got), len(want), got, want)
		}
	}
	if got := walk(memory.UserFilter("u"), 7); !slices.Equal(got, wantU) {
		t.Errorf("walking user u: %q, want %q", got, wantU)
	}
	// A filter the Milvus store evaluates in part after Milvus.
	contains := memory.And(memory.UserFilter("u"), memory.Cmp(memory.FieldText, false, memory.OpContains, "1"))
	var wantC []string
	for i := range ms {
		if contains.Match(&ms[i]) {
			wantC = append(wantC, ms[i].ID)
		}
	}
	sort.Strings(wantC)
	if got := walk(contains, 5); !slices.Equal(got, wantC) {
		t.Errorf("walking a substring filter: %q, want %q", got, wantC)
	}
	if got, err := s.Scan(ctx(t), memory.Filter{}, want[len(want)-1], 10); err != nil || len(got) != 0 {
		t.Errorf("Scan after the last id = %d memories, %v; want none", len(got), err)
	}
	if _, err := s.Scan(ctx(t), memory.Filter{}, "", 0); err == nil {
		t.Errorf("Scan with limit 0 succeeded")
	}
}

func testConcurrent(t *testing.T, s memory.Store) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			user := fmt.Sprintf("user-%d", w)
			for i := range each {
				m := mem(w*1000+i, fmt.Sprintf("fact %d of %s", i, user), memory.Scope{UserID: user}, nil)
				if err := s.Add(ctx(t), m); err != nil {
					errs <- err
					return
				}
				if i%5 == 4 { // delete every fifth, read in between
					if err := s.Delete(ctx(t), m.ID); err != nil {
						errs <- err
					}
				}
				if _, err := s.Search(ctx(t), memory.SearchRequest{Vector: m.Vector, Filter: memory.UserFilter(user), TopK: 3}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writer: %v", err)
	}
	for w := range writers {
		n, err := s.Count(ctx(t), memory.UserFilter(fmt.Sprintf("user-%d", w)))
		if err != nil || n != each-each/5 {
			t.Errorf("user-%d has %d memories (%v), want %d", w, n, err, each-each/5)
		}
	}
}

func testHistory(t *testing.T, s memory.Store) {
	rec := func(id, memID, event, oldText, newText string, minute int) memory.HistoryRecord {
		return memory.HistoryRecord{ID: id, MemoryID: memID, Event: event, OldText: oldText, NewText: newText,
			UserID: "sarah", RequestID: "req_" + id, CreatedAt: clock.Add(time.Duration(minute) * time.Minute)}
	}
	a, b := memory.NewID(), memory.NewID()
	err := s.AddHistory(ctx(t),
		rec("h2", a, memory.EventUpdate, "I run 5K", "I run 10K", 2),
		rec("h1", a, memory.EventAdd, "", "I run 5K", 1),
		rec("h3", b, memory.EventAdd, "", "other memory", 1),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Replaying a record by id replaces it rather than adding a second.
	if err := s.AddHistory(ctx(t), rec("h2", a, memory.EventUpdate, "I run 5K", "I run 10K", 2)); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "h1" || got[1].ID != "h2" || got[1].OldText != "I run 5K" || got[1].NewText != "I run 10K" ||
		got[1].RequestID != "req_h2" || got[1].UserID != "sarah" || !got[1].CreatedAt.Equal(clock.Add(2*time.Minute)) {
		t.Errorf("History = %+v, want h1 then h2 with their values", got)
	}
	if err := s.DeleteHistory(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.History(ctx(t), a); len(got) != 0 {
		t.Errorf("history left after DeleteHistory: %+v", got)
	}
	if got, _ := s.History(ctx(t), b); len(got) != 1 {
		t.Errorf("DeleteHistory of one memory removed another's: %+v", got)
	}
	if got, err := s.History(ctx(t), "no-such-memory"); err != nil || len(got) != 0 {
		t.Errorf("History of an unknown memory = %v, %v", got, err)
	}
}
