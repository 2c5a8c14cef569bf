// Command storebench measures the memory stores on this machine: insert
// throughput and search latency (p50, p99) for 1k, 10k and 100k memories
// spread over 1,000 users, for the embedded store and for Milvus.
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
	fmt.Fprintln(tw, "store\tmemories\tinsert/s\tsearch p50\tsearch p99\t")
	for _, n := range ns {
		row(tw, "embedded", n, *searches, func() (memory.Store, func()) {
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
			row(tw, "milvus", n, *searches, func() (memory.Store, func()) {
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

// row fills a new store with n memories over the users, then searches.
func row(tw *tabwriter.Writer, name string, n, searches int, open func() (memory.Store, func())) {
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
	lat := make([]time.Duration, searches)
	for i := range lat {
		q := memory.SearchRequest{Vector: storeload.RandomVector(r, dims), Filter: memory.UserFilter(fmt.Sprintf("user-%d", r.IntN(users))), TopK: 5}
		t := time.Now()
		if _, err := s.Search(ctx, q); err != nil {
			log.Fatalf("%s: searching: %v", name, err)
		}
		lat[i] = time.Since(t)
	}
	slices.Sort(lat)
	fmt.Fprintf(tw, "%s\t%d\t%.0f\t%v\t%v\t\n", name, n, insertRate,
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
}
