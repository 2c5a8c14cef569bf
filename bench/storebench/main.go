// Command storebench measures the memory stores on this machine: insert
// throughput and search latency (p50, p99) for 1k, 10k and 100k memories
// spread over 1,000 users, for the embedded store and for Milvus; and the
// rate of single-memory adds from concurrent writers, as the background
// writer and the memory API make them (each add checks its id first).
//
//	go run ./bench/storebench -milvus 127.0.0.1:19530
//
// Searches are the chat path's: one user's memories, top 5, the cheaper
// consistency (SearchRequest.Fresh false). It only talks to loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embedded"
)

const (
	users = 1000
	dims  = 256 // the hash embedder's
)

func main() {
	milvusAddr := flag.String("milvus", "", "Milvus address (host:port on loopback); empty: embedded store only")
	sizes := flag.String("sizes", "1000,10000,100000", "memory counts")
	searches := flag.Int("searches", 2000, "searches per measurement")
	writers := flag.Int("writers", 16, "concurrent writers for the parallel adds")
	adds := flag.Int("adds", 800, "single-memory adds, in all, by the concurrent writers")
	flag.Parse()
	if *milvusAddr != "" {
		if err := storeload.CheckLoopback(*milvusAddr); err != nil {
			log.Fatalf("-milvus: %v", err)
		}
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			log.Fatalf("-sizes: %q is not a count", s)
		}
		ns = append(ns, n)
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "store\tmemories\tinsert/s\tsearch p50\tsearch p99\tadds/s (%d writers)\t\n", *writers)
	load := load{searches: *searches, writers: *writers, adds: *adds}
	for _, n := range ns {
		row(tw, "embedded", n, load, func() (memory.Store, func()) {
			dir, err := os.MkdirTemp("", "storebench")
			if err != nil {
				log.Fatal(err)
			}
			s, err := embedded.Open(dir, dims, "bench")
			if err != nil {
				log.Fatal(err)
			}
			return s, func() { s.Close(); os.RemoveAll(dir) }
		})
		if *milvusAddr != "" {
			row(tw, "milvus", n, load, func() (memory.Store, func()) {
				coll := fmt.Sprintf("memproxy_bench_%d", time.Now().UnixNano())
				s, err := storeload.OpenMilvus(context.Background(), *milvusAddr, coll, dims, "bench")
				if err != nil {
					log.Fatal(err)
				}
				return s, func() {
					s.Close()
					if err := storeload.DropMilvus(*milvusAddr, coll); err != nil {
						log.Print(err)
					}
				}
			})
		}
		tw.Flush()
	}
}

// load is what a row measures besides the fill.
type load struct {
	searches, writers, adds int
}

// row fills a new store with n memories over the users, searches, then
// adds single memories from concurrent writers.
func row(tw *tabwriter.Writer, name string, n int, load load, open func() (memory.Store, func())) {
	s, closeStore := open()
	defer closeStore()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(uint64(n), 1))
	now := time.Now()
	ms := make([]memory.Memory, 0, n)
	for j := range n {
		text := fmt.Sprintf("fact %d of user %d", j, j%users)
		ms = append(ms, memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text),
			UserID: fmt.Sprintf("user-%d", j%users), CreatedAt: now, UpdatedAt: now, Vector: storeload.RandomVector(r, dims)})
	}
	insertRate, err := storeload.Fill(ctx, s, ms)
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	// Wait until every memory is visible to the chat path's reads.
	if err := storeload.WaitVisible(ctx, s, dims, "user-0", (n+users-1)/users); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	lat := make([]time.Duration, load.searches)
	for i := range lat {
		q := memory.SearchRequest{Vector: storeload.RandomVector(r, dims), Filter: memory.UserFilter(fmt.Sprintf("user-%d", r.IntN(users))), TopK: 5}
		t := time.Now()
		if _, err := s.Search(ctx, q); err != nil {
			log.Fatalf("%s: searching: %v", name, err)
		}
		lat[i] = time.Since(t)
	}
	slices.Sort(lat)
	addRate := parallelAdds(s, name, load.writers, load.adds)
	fmt.Fprintf(tw, "%s\t%d\t%.0f\t%v\t%v\t%.0f\t\n", name, n, insertRate,
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), addRate)
}

// parallelAdds adds n memories one at a time from writers goroutines, each
// to users of its own, and returns the adds per second.
func parallelAdds(s memory.Store, name string, writers, n int) float64 {
	if writers <= 0 || n <= 0 {
		return 0
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for i := w; i < n; i += writers {
				text := fmt.Sprintf("learned fact %d", i)
				now := time.Now()
				m := memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text),
					UserID: fmt.Sprintf("writer-%d-user-%d", w, i%10), CreatedAt: now, UpdatedAt: now, Vector: storeload.RandomVector(r, dims)}
				if err := s.Add(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		log.Fatalf("%s: parallel adds: %v", name, err)
	}
	return float64(n) / time.Since(start).Seconds()
}
