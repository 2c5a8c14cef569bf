package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
)

// runBareProxy serves the smallest useful Go reverse proxy in front of
// -upstream: the standard library's httputil.ReverseProxy with keep-alive
// pools and pooled buffers, nothing else. It is the benchmark re-run as
// "bench bareproxy", the floor against which the sidecar's own cost shows.
func runBareProxy(args []string) error {
	fs := flag.NewFlagSet("bareproxy", flag.ContinueOnError)
	up := fs.String("upstream", "", "upstream base URL (loopback)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*up)
	if err != nil {
		return err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 512
	rp := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport:     t,
		FlushInterval: -1,
		BufferPool:    &bufPool{},
	}
	return serveLoopback(rp)
}

type bufPool struct{ p sync.Pool }

func (b *bufPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufPool) Put(v []byte) { b.p.Put(&v) }

// runLoad sends requests at a fixed rate to a loopback URL and prints
// their latency: "bench load -url http://127.0.0.1:PORT -rate 1000
// -duration 5s", for looking at one process by hand (strace, perf) while
// the benchmark's machinery loads it.
func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	base := fs.String("url", "", "base URL (loopback)")
	rate := fs.Float64("rate", 1000, "requests per second")
	d := fs.Duration("duration", 5*time.Second, "how long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := storeload.CheckLoopback(*base); err != nil {
		return err
	}
	body := chatBody("How should I structure my training this week?", false)
	s := openLoop(newClient(), *base, *rate, *d, func(int) spec { return spec{path: "/v1/chat/completions", body: body} }, 0)
	var lat []time.Duration
	errs := 0
	for _, x := range s {
		if x.ok() {
			lat = append(lat, x.lat)
		} else {
			errs++
		}
	}
	dd := summarize(lat)
	fmt.Printf("%d requests, %d errors, p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms\n", len(s), errs, ms(dd.p50), ms(dd.p99), ms(dd.p999))
	return nil
}
