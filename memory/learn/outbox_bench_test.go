package learn

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// BenchmarkEnqueue is the hand-off a finished answer now waits for: one
// durable Enqueue, with writers turns handed off at once (bbolt's batch
// commits them together). It reports the p50 and p99 latency of one
// Enqueue, which is what the end of an answer is held back by.
func BenchmarkEnqueue(b *testing.B) {
	for _, writers := range []int{1, 16, 64, 200} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			o, err := OpenOutbox(b.TempDir(), 1<<30)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			var next atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					var mine []time.Duration
					for next.Add(1) <= int64(b.N) {
						turn := Turn{ID: fmt.Sprint("req_", w, "_", len(mine)), Identity: memory.Identity{UserID: fmt.Sprint("user-", w)},
							UserMessages: []string{"My locker number is 42 and I train on Mondays."}, Assistant: "Noted!", Time: time.Now()}
						start := time.Now()
						if err := o.Enqueue(turn); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
