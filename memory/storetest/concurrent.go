package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

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
