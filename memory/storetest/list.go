package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

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
	// Vectors come back when asked for, as added; not otherwise.
	for _, limit := range []int{0, 3} {
		for _, vectors := range []bool{false, true} {
			page, err := s.List(ctx(t), memory.UserFilter("u"), memory.Page{Limit: limit, Fresh: true, Vectors: vectors})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				want := ms[slices.IndexFunc(ms, func(x memory.Memory) bool { return x.ID == m.ID })].Vector
				if vectors && !slices.Equal(m.Vector, want) || !vectors && m.Vector != nil {
					t.Fatalf("List(limit %d, Vectors %v): %q has vector %v, want %v", limit, vectors, m.Text, m.Vector[:min(2, len(m.Vector))], vectors)
				}
			}
		}
	}
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
