package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

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
