// Package storeload fills memory stores for the benchmark programs
// (bench, bench/storebench): it opens a store, adds memories in batches,
// waits until the chat path's reads see them, and drops what it created on
// Milvus. It also holds the rule every benchmark follows: talk to loopback
// only.
package storeload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/milvus"
)

// Batch is how many memories one Add carries.
const Batch = 1000

// CheckLoopback returns an error unless addr (host:port, or a URL) names
// a loopback address. Host names must resolve to loopback addresses only.
func CheckLoopback(addr string) error {
	hostport := addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return fmt.Errorf("%q: %w", addr, err)
		}
		hostport = u.Host
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%q is not a loopback address: the benchmark only talks to loopback", addr)
		}
		return nil
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("%q: cannot tell whether it is loopback: %v", addr, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%q resolves to %s, not loopback: the benchmark only talks to loopback", addr, ip)
		}
	}
	return nil
}

// OpenMilvus opens (creating) collection coll on the Milvus server at addr,
// which must be loopback, and waits until it serves.
func OpenMilvus(ctx context.Context, addr, coll string, dims int, space string) (*milvus.Store, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	s, err := milvus.Open(ctx, milvus.Config{Address: addr, Collection: coll,
		ConnectTimeout: 10 * time.Second, Dims: dims, Space: space})
	if err != nil {
		return nil, err
	}
	if err := s.Ready(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Fill adds ms to s in batches and returns the insert rate (memories/s).
func Fill(ctx context.Context, s memory.Store, ms []memory.Memory) (float64, error) {
	start := time.Now()
	for i := 0; i < len(ms); i += Batch {
		if err := s.Add(ctx, ms[i:min(i+Batch, len(ms))]...); err != nil {
			return 0, fmt.Errorf("adding memories %d-%d: %w", i, min(i+Batch, len(ms)), err)
		}
	}
	return float64(len(ms)) / time.Since(start).Seconds(), nil
}

// WaitVisible waits until a search of user's memories, with the chat
// path's consistency, finds want of them.
func WaitVisible(ctx context.Context, s memory.Store, dims int, user string, want int) error {
	r := rand.New(rand.NewPCG(1, 2))
	for {
		hits, err := s.Search(ctx, memory.SearchRequest{Vector: RandomVector(r, dims), Filter: memory.UserFilter(user), TopK: want + 1})
		if err != nil {
			return fmt.Errorf("searching: %w", err)
		}
		if len(hits) >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d memories of %s to be visible (%d are): %w", want, user, len(hits), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SettleMilvus seals the collection's growing segments and waits until
// the vector index covers every row: the state of a collection that has
// been in service for a while, searched through its HNSW index rather
// than by brute force over fresh rows.
func SettleMilvus(ctx context.Context, addr, coll string) error {
	if err := CheckLoopback(addr); err != nil {
		return err
	}
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	task, err := c.Flush(ctx, milvusclient.NewFlushOption(coll))
	if err != nil {
		return fmt.Errorf("flushing %s: %w", coll, err)
	}
	if err := task.Await(ctx); err != nil {
		return fmt.Errorf("flushing %s: %w", coll, err)
	}
	names, err := c.ListIndexes(ctx, milvusclient.NewListIndexOption(coll))
	if err != nil {
		return fmt.Errorf("listing the indexes of %s: %w", coll, err)
	}
	for _, name := range names {
		for {
			d, err := c.DescribeIndex(ctx, milvusclient.NewDescribeIndexOption(coll, name))
			if err != nil {
				return fmt.Errorf("describing index %s of %s: %w", name, coll, err)
			}
			if d.PendingIndexRows == 0 && d.IndexedRows >= d.TotalRows {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for index %s of %s (%d of %d rows): %w", name, coll, d.IndexedRows, d.TotalRows, ctx.Err())
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// DropMilvus drops collection coll and its history collection.
func DropMilvus(addr, coll string) error {
	if err := CheckLoopback(addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		return fmt.Errorf("dropping %s: %w", coll, err)
	}
	defer c.Close(ctx)
	var errs []error
	for _, name := range []string{coll, coll + "_history"} {
		if err := c.DropCollection(ctx, milvusclient.NewDropCollectionOption(name)); err != nil {
			errs = append(errs, fmt.Errorf("dropping %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// RandomVector returns a random unit vector.
func RandomVector(r *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return memory.Normalize(v)
}
