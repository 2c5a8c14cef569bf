package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memproxy/memproxy/internal/fakeupstream"
)

// upstreamOptions shape the fake upstream: a fixed latency before every
// chat answer (the model thinking), another before every embedding, a
// delay between stream events (tokens), and the length of the answers.
type upstreamOptions struct {
	latency      time.Duration
	embedLatency time.Duration
	chunkDelay   time.Duration
	replyWords   int
}

func (o upstreamOptions) args() []string {
	return []string{"-latency", o.latency.String(), "-embed-latency", o.embedLatency.String(),
		"-chunk-delay", o.chunkDelay.String(), "-reply-words", strconv.Itoa(o.replyWords)}
}

// runUpstream serves the fake upstream on a free loopback port, prints
// its address on stdout, and serves until SIGTERM. It is the benchmark
// re-run as "bench upstream", a process of its own.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	var o upstreamOptions
	fs.DurationVar(&o.latency, "latency", 10*time.Millisecond, "wait before each chat answer")
	fs.DurationVar(&o.embedLatency, "embed-latency", 10*time.Millisecond, "wait before each embeddings answer")
	fs.DurationVar(&o.chunkDelay, "chunk-delay", 5*time.Millisecond, "wait between stream events")
	fs.IntVar(&o.replyWords, "reply-words", 80, "words in each answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reply := replyText(o.replyWords)
	u := &fakeupstream.Upstream{
		NoRecord:   true,
		ChunkDelay: o.chunkDelay,
		Reply:      func(string) string { return reply },
	}
	u.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		d := o.latency
		if strings.HasSuffix(r.URL.Path, "/embeddings") {
			d = o.embedLatency
		}
		if d <= 0 {
			return false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			return true
		}
	}
	return serveLoopback(u)
}

// serveLoopback serves h on a free loopback port, which it prints first
// (the parent process reads it), until SIGTERM or an interrupt.
func serveLoopback(h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// replyText is an assistant answer of n words, as a coach would write it.
func replyText(n int) string {
	words := strings.Fields(`Great work today! Keeping a steady pace on your easy runs is exactly how
		endurance grows, so be proud of that. For the next week, try adding one short interval session:
		six repeats of two minutes at a comfortably hard effort with two minutes of easy jogging between.
		Keep your long run conversational, eat a carbohydrate-rich meal within an hour afterwards, and
		remember that sleep is part of the training plan. If your knee complains, swap one run for a
		bike ride. Small wins add up, and you are stacking them nicely.`)
	out := make([]string, n)
	for i := range out {
		out[i] = words[i%len(words)]
	}
	return strings.Join(out, " ")
}
