package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A spec is one request to send: a POST of body to path.
type spec struct {
	path   string
	header http.Header
	body   []byte
	stream bool
	// expect, when set, must appear in the answer: a proxy that answers
	// 200 with something else has not done its job.
	expect []byte
}

// A gen makes the i-th request of a run.
type gen func(i int) spec

// A sample is what one request measured. Latencies count from the
// request's intended send time, not from when it went out, so that a
// slow answer cannot delay the requests behind it out of the measurement
// (no coordinated omission).
type sample struct {
	lag    time.Duration // intended send time to actual send
	lat    time.Duration // to the end of the body
	ttfb   time.Duration // to the response headers; for a stream, to its first event
	status int
	err    bool
	wrong  bool // answered, but without the upstream's answer (spec.expect)

	// The sidecar's headers.
	timing   string // Server-Timing
	memory   string // X-Memory-Status
	learning string // X-Memory-Learning
	injected string // X-Memory-Injected

	// Streams: events received, events that arrived in the same read as
	// the event before them (coalesced), gaps between the reads that
	// completed events.
	events    int
	coalesced int
	gaps      []time.Duration
}

func (s sample) ok() bool { return !s.err && !s.wrong && s.status == http.StatusOK }

// newClient returns the load generator's client: keep-alive with a large
// pool, no proxy (only loopback is ever dialled), no compression.
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout: time.Minute,
	}
}

var readBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// do sends sp to base, intended at t, and measures it.
func do(c *http.Client, base string, sp spec, t time.Time) sample {
	req, err := http.NewRequest(http.MethodPost, base+sp.path, bytes.NewReader(sp.body))
	if err != nil {
		return sample{err: true}
	}
	req.Header = sp.header
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	s := sample{lag: sent.Sub(t)}
	res, err := c.Do(req)
	if err != nil {
		s.err, s.lat = true, time.Since(t)
		return s
	}
	defer res.Body.Close()
	s.status = res.StatusCode
	s.ttfb = time.Since(t)
	s.timing = res.Header.Get("Server-Timing")
	s.memory = res.Header.Get("X-Memory-Status")
	s.learning = res.Header.Get("X-Memory-Learning")
	s.injected = res.Header.Get("X-Memory-Injected")
	if !sp.stream {
		if sp.expect == nil {
			if _, err := io.Copy(io.Discard, res.Body); err != nil {
				s.err = true
			}
		} else {
			b, err := io.ReadAll(res.Body)
			s.err = err != nil
			s.wrong = !bytes.Contains(b, sp.expect)
		}
		s.lat = time.Since(t)
		return s
	}
	found := sp.expect == nil
	// A stream: count the events each read completes. An event ends with
	// a blank line ("\n\n"); more than one in a read means they arrived
	// together.
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	var last time.Time
	prevNL := false
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			found = found || bytes.Contains(buf[:n], sp.expect)
			now := time.Now()
			var done int
			done, prevNL = eventEnds(buf[:n], prevNL)
			if done > 0 {
				if s.events == 0 {
					s.ttfb = now.Sub(t)
				} else {
					s.gaps = append(s.gaps, now.Sub(last))
				}
				last = now
				s.events += done
				s.coalesced += done - 1
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			s.err = true
			break
		}
	}
	s.lat = time.Since(t)
	s.wrong = !found
	return s
}

// eventEnds counts the server-sent events that end in p: an event ends
// with a blank line, "\n\n", which may be split across reads. prevNL says
// whether the bytes before p ended in a '\n' that did not end an event;
// the second result says the same of p, for the next read.
func eventEnds(p []byte, prevNL bool) (int, bool) {
	n := 0
	for _, b := range p {
		if b != '\n' {
			prevNL = false
			continue
		}
		if prevNL {
			n++
		}
		prevNL = !prevNL
	}
	return n, prevNL
}

// openLoop sends requests at rate per second for d, each at its intended
// time whatever the answers to earlier ones are doing, and returns their
// samples once all have answered. first is the index of the first request
// given to g.
func openLoop(c *http.Client, base string, rate float64, d time.Duration, g gen, first int) []sample {
	n := int(rate * d.Seconds())
	out := make([]sample, n)
	var wg sync.WaitGroup
	start := time.Now().Add(time.Millisecond)
	interval := float64(time.Second) / rate
	for i := range n {
		t := start.Add(time.Duration(float64(i) * interval))
		if w := time.Until(t); w > 0 {
			time.Sleep(w)
		}
		sp := g(first + i)
		wg.Go(func() { out[i] = do(c, base, sp, t) })
	}
	wg.Wait()
	return out
}

// closedLoop runs conc clients, each sending its next request when the
// last one has answered, for d. It returns the samples and the time taken.
func closedLoop(c *http.Client, base string, conc int, d time.Duration, g gen, first int) ([]sample, time.Duration) {
	var next atomic.Int64
	next.Store(int64(first))
	deadline := time.Now().Add(d)
	start := time.Now()
	per := make([][]sample, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1))
				per[w] = append(per[w], do(c, base, g(i), time.Now()))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var out []sample
	for _, p := range per {
		out = append(out, p...)
	}
	return out, elapsed
}

// stageTimes parses the sidecar's Server-Timing header into its stages'
// durations: memproxy-embed;dur=0.012, memproxy-search;dur=0.3, ...
func stageTimes(h string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for part := range strings.SplitSeq(h, ",") {
		name, rest, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(name, "memproxy-") {
			continue
		}
		_, v, ok := strings.Cut(rest, "dur=")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			continue
		}
		out[strings.TrimPrefix(name, "memproxy-")] = time.Duration(f * float64(time.Millisecond))
	}
	return out
}
