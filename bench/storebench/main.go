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
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embedded"
	"github.com/memproxy/memproxy/memory/milvus"
)

const (
	users = 1000
	dims  = 256 // the hash embedder's
	batch = 1000
)

func main() {
	milvusAddr := flag.String("milvus", "", "Milvus address (host:port on loopback); empty: embedded store only")
	sizes := flag.String("sizes", "1000,10000,100000", "memory counts")
	searches := flag.Int("searches", 2000, "searches per measurement")
	writers := flag.Int("writers", 16, "concurrent writers for the parallel adds")
	adds := flag.Int("adds", 800, "single-memory adds, in all, by the concurrent writers")
	flag.Parse()
	if *milvusAddr != "" {
		if host, _, err := net.SplitHostPort(*milvusAddr); err != nil || !net.ParseIP(host).IsLoopback() {
			log.Fatalf("-milvus %q: the benchmark only talks to loopback", *milvusAddr)
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
				s, err := milvus.Open(context.Background(), milvus.Config{Address: *milvusAddr, Collection: coll,
					ConnectTimeout: 10 * time.Second, Dims: dims, Space: "bench"})
				if err != nil {
					log.Fatal(err)
				}
				if err := s.Ready(context.Background()); err != nil {
					log.Fatal(err)
				}
				return s, func() { s.Close(); drop(*milvusAddr, coll) }
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
	start := time.Now()
	for i := 0; i < n; i += batch {
		ms := make([]memory.Memory, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			text := fmt.Sprintf("fact %d of user %d", j, j%users)
			ms = append(ms, memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text),
				UserID: fmt.Sprintf("user-%d", j%users), CreatedAt: now, UpdatedAt: now, Vector: vec(r)})
		}
		if err := s.Add(ctx, ms...); err != nil {
			log.Fatalf("%s: adding: %v", name, err)
		}
	}
	insertRate := float64(n) / time.Since(start).Seconds()
	// Wait until every memory is visible to the chat path's reads.
	for {
		hits, err := s.Search(ctx, memory.SearchRequest{Vector: vec(r), Filter: memory.UserFilter("user-0"), TopK: n})
		if err != nil {
			log.Fatalf("%s: searching: %v", name, err)
		}
		if len(hits) == (n+users-1)/users {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	lat := make([]time.Duration, load.searches)
	for i := range lat {
		q := memory.SearchRequest{Vector: vec(r), Filter: memory.UserFilter(fmt.Sprintf("user-%d", r.IntN(users))), TopK: 5}
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
					UserID: fmt.Sprintf("writer-%d-user-%d", w, i%10), CreatedAt: now, UpdatedAt: now, Vector: vec(r)}
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

func vec(r *rand.Rand) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return memory.Normalize(v)
}

func drop(addr, coll string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		log.Printf("dropping %s: %v", coll, err)
		return
	}
	defer c.Close(ctx)
	for _, name := range []string{coll, coll + "_history"} {
		if err := c.DropCollection(ctx, milvusclient.NewDropCollectionOption(name)); err != nil {
			log.Printf("dropping %s: %v", name, err)
		}
	}
}
