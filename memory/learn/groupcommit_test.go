package learn

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestGroupCommit: concurrent writes are all committed, and one that fails
// fails alone.
func TestGroupCommit(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err })
	g := &groupCommit{db: db}
	bad := errors.New("bad write")
	errs := make([]error, 200)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			errs[i] = g.write(func(tx *bolt.Tx) error {
				if i == 17 {
					return bad
				}
				return tx.Bucket([]byte("b")).Put(fmt.Append(nil, i), []byte("v"))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 17) != errors.Is(err, bad) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("b")).Stats().KeyN; n != 199 {
			t.Errorf("%d writes committed, want 199", n)
		}
		return nil
	})
}
