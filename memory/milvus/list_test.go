package milvus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

// listingOrder is the order of listings: newest first, then by id.
func listingOrder(a, b memory.Memory) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// TestListingsPageThrough checks List, Scan and Count with pages far
// smaller than the memories, so that every listing spans many queries:
// the first page, pages of ids and times under a tightening time bound,
// and the memories read back by id. Creation times repeat (and some are
// unset), so that ties are ordered by id across pages.
func TestListingsPageThrough(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		s := openStore(t, addr, Config{})
		s.pages = pageSizes{first: 8, full: 24, ids: 32}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r := rand.New(rand.NewPCG(7, 8))
		base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		var ms []memory.Memory
		for i := range 400 {
			text := fmt.Sprintf("fact %d", i)
			m := memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: "u", Vector: storetest.Vec(uint64(i))}
			if i%4 == 0 {
				m.UserID = "other"
			}
			if i%10 == 0 {
				m.ID = storetest.HostileID(r) + fmt.Sprint(i) // unique, and sorting anywhere
			}
			if i%50 != 7 { // a few have no creation time
				m.CreatedAt = base.Add(time.Duration(r.IntN(40)) * time.Minute)
			}
			ms = append(ms, m)
		}
		if err := s.Add(ctx, ms...); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			f    memory.Filter
		}{
			{"exact", memory.UserFilter("u")},
			{"substring", memory.And(memory.UserFilter("u"), memory.Cmp(memory.FieldText, false, memory.OpContains, "1"))},
			{"everything", memory.Filter{}},
		} {
			var want []memory.Memory
			for i := range ms {
				if tc.f.Match(&ms[i]) {
					want = append(want, ms[i])
				}
			}
			slices.SortFunc(want, listingOrder)
			same := func(a, b memory.Memory) bool {
				return a.ID == b.ID && a.Text == b.Text && a.CreatedAt.Equal(b.CreatedAt)
			}
			for _, page := range []memory.Page{{Limit: 1}, {Limit: 10}, {Limit: 100}, {Offset: 7, Limit: 10}, {Offset: 130, Limit: 25},
				{Offset: len(want) - 3, Limit: 10}, {Offset: len(want) + 5, Limit: 10}, {}, {Offset: 40}} {
				page.Fresh = true
				got, err := s.List(ctx, tc.f, page)
				if err != nil {
					t.Fatalf("%s: List(%+v): %v", tc.name, page, err)
				}
				lo := min(page.Offset, len(want))
				hi := len(want)
				if page.Limit > 0 {
					hi = min(lo+page.Limit, hi)
				}
				if !slices.EqualFunc(got, want[lo:hi], same) {
					t.Errorf("%s: List(%+v) = %v, want %v", tc.name, page, texts(got), texts(want[lo:hi]))
				}
			}
			if n, err := s.Count(ctx, tc.f); err != nil || n != len(want) {
				t.Errorf("%s: Count = %d, %v; want %d", tc.name, n, err, len(want))
			}
			var scanned []string
			for after := ""; ; {
				page, err := s.Scan(ctx, tc.f, after, 37)
				if err != nil {
					t.Fatalf("%s: Scan: %v", tc.name, err)
				}
				for _, m := range page {
					scanned = append(scanned, m.ID)
				}
				if len(page) < 37 {
					break
				}
				after = page[len(page)-1].ID
			}
			wantIDs := make([]string, len(want))
			for i, m := range want {
				wantIDs[i] = m.ID
			}
			slices.Sort(wantIDs)
			if !slices.Equal(scanned, wantIDs) {
				t.Errorf("%s: Scan walked %d ids, want %d in order", tc.name, len(scanned), len(wantIDs))
			}
		}
	})
}
