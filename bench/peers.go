package main

import (
	"fmt"
	"log"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The peers are the gateways people put in front of an LLM today, run
// side by side with the sidecar when they are installed (see
// BENCHMARKS.md for the commands): the LiteLLM proxy (a Python package)
// and the Portkey gateway (a Node package). Bifrost has no package in the
// registries this machine reaches; it is not measured.

// peerAnswer is a piece of every answer of the fake upstream (see
// replyText): a path that does not return it has not proxied the call.
// A stream carries it in its first content event.
var (
	peerAnswer       = []byte("Great work today!")
	peerStreamAnswer = []byte("Great")
)

// startLiteLLM runs the LiteLLM proxy at bin (its "litellm" command) in
// front of the upstream, with one worker, and waits for it.
func (b *bench) startLiteLLM(bin string) (target, error) {
	addr, err := freePort()
	if err != nil {
		return target{}, err
	}
	cfg := filepath.Join(b.dir, "litellm.yaml")
	yaml := fmt.Sprintf(`model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: %s/v1
      api_key: sk-bench
litellm_settings:
  telemetry: false
general_settings:
  master_key: %s
`, b.up.url, liteLLMKey)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return target{}, err
	}
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, "--config", cfg, "--host", host, "--port", port, "--num_workers", "1")
	// The model cost map from the package, not from the network.
	cmd.Env = append(minimalEnv(), "LITELLM_LOCAL_MODEL_COST_MAP=True", "LITELLM_LOG=ERROR")
	p, err := start("litellm", cmd, filepath.Join(b.dir, "litellm.log"))
	if err != nil {
		return target{}, err
	}
	b.track(p)
	url := "http://" + addr
	if err := waitHTTP(p, url+"/health/liveliness", 3*time.Minute); err != nil {
		return target{}, err
	}
	return target{name: "LiteLLM proxy (1 worker)", base: url, proxy: p}, nil
}

// liteLLMKey is the LiteLLM proxy's master key in the benchmark, which
// its clients send: it refuses to start without one.
const liteLLMKey = "sk-bench-litellm-master-key"

// startPortkey runs the Portkey gateway's server script (build/start-server.js)
// under node, and waits for it. Requests name the upstream in headers.
func (b *bench) startPortkey(script string) (target, http.Header, error) {
	addr, err := freePort()
	if err != nil {
		return target{}, nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command("node", script, "--port="+port, "--headless")
	cmd.Env = minimalEnv()
	p, err := start("portkey", cmd, filepath.Join(b.dir, "portkey.log"))
	if err != nil {
		return target{}, nil, err
	}
	b.track(p)
	url := "http://127.0.0.1:" + port
	if err := waitHTTP(p, url+"/", 2*time.Minute); err != nil {
		return target{}, nil, err
	}
	h := http.Header{}
	h.Set("x-portkey-provider", "openai")
	h.Set("x-portkey-custom-host", b.up.url+"/v1")
	h.Set("Authorization", "Bearer sk-bench")
	return target{name: "Portkey gateway", base: url, proxy: p}, h, nil
}

// waitHTTP waits until url answers at all (any status), or p exits.
func waitHTTP(p *process, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited at start:\n%s", p.name, p.tail())
		}
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v:\n%s", p.name, limit, p.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// peers measures passthrough and streaming through the sidecar, the bare
// reverse proxy and each installed peer, in the same runs against the same
// upstream, each answer checked to be the upstream's.
func (b *bench) peers() error {
	sc := b.passSidecar
	if sc == nil {
		var err error
		if sc, err = b.newSidecar("passthrough", nil); err != nil {
			return err
		}
		b.passSidecar = sc
	}
	bp, err := startSelf(b.dir, "bareproxy", "-upstream", b.up.url)
	if err != nil {
		return err
	}
	b.track(bp.process)

	type peer struct {
		t      target
		header http.Header
	}
	peers := []peer{
		{t: target{name: "direct", base: b.up.url}},
		{t: target{name: "memproxy sidecar", base: sc.url, sc: sc}},
		{t: target{name: "bare Go reverse proxy", base: bp.url, proxy: bp.process}},
	}
	var missing []string
	if b.o.litellm != "" {
		t, err := b.startLiteLLM(b.o.litellm)
		if err != nil {
			log.Printf("LiteLLM not measured: %v", err)
			missing = append(missing, fmt.Sprintf("the LiteLLM proxy did not start (%v)", firstLine(err)))
		} else {
			h := http.Header{}
			h.Set("Authorization", "Bearer "+liteLLMKey)
			peers = append(peers, peer{t: t, header: h})
		}
	} else {
		missing = append(missing, "the LiteLLM proxy is not installed (-litellm)")
	}
	if b.o.portkey != "" {
		t, h, err := b.startPortkey(b.o.portkey)
		if err != nil {
			log.Printf("Portkey not measured: %v", err)
			missing = append(missing, fmt.Sprintf("the Portkey gateway did not start (%v)", firstLine(err)))
		} else {
			peers = append(peers, peer{t: t, header: h})
		}
	} else {
		missing = append(missing, "the Portkey gateway is not installed (-portkey)")
	}
	missing = append(missing, "Bifrost has no package in the registries this machine reaches (PyPI, npm, Go modules, crates, Maven, Debian): not installable here")

	// Procs: the proxy's own process (for LiteLLM, the launcher; its one
	// worker is a child, see the note).
	mk := func(stream bool) []target {
		var ts []target
		for _, p := range peers {
			body := chatBody("How should I structure my training this week?", stream)
			sp := spec{path: "/v1/chat/completions", body: body, header: p.header, stream: stream, expect: peerAnswer}
			if stream {
				sp.expect = peerStreamAnswer
			}
			t := p.t
			t.gen = func(int) spec {
				s := sp
				if s.header != nil {
					s.header = s.header.Clone() // do sets Content-Type on it
				}
				return s
			}
			ts = append(ts, t)
		}
		return ts
	}

	sec := &section{title: "Peers: the gateways people use, side by side"}
	sec.printf("The same load, in the same runs, against the same fake upstream (%v before each answer), through: nothing (direct), "+
		"the memproxy sidecar (no identity: a pure proxy), a bare Go `httputil.ReverseProxy`, and each peer installed. "+
		"Every answer is checked to carry the upstream's text; a 200 without it counts as *wrong* (and as an error). "+
		"Open loop, latency from the scheduled send; CPU is %% of one core of the proxy process, RSS its peak. %d run(s) of %v per rate.\n\n",
		b.o.up.latency, b.o.runs, b.o.dur)
	tb := newTable("rate (req/s)", "path", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "errors", "wrong answers", "CPU %", "RSS MiB")
	// The chart: each proxy's added p50 and p99 against the rate.
	added := map[string]*[2]plotLine{}
	for i, p := range peers[1:] {
		col := lineColors[i%len(lineColors)]
		added[p.t.name] = &[2]plotLine{{label: p.t.name + " p50", col: col}, {label: p.t.name + " p99", col: col, dashed: true}}
	}
	for _, rate := range b.o.peerRates {
		ts := mk(false)
		res := map[string]metrics{}
		wrong := map[string]int{}
		for _, t := range ts {
			res[t.name] = metrics{}
		}
		for run := range b.o.runs {
			ws := b.runOpen(ts, rate, run)
			for _, t := range ts {
				w := ws[t.name]
				w.record(res[t.name])
				for _, s := range w.samples {
					if s.wrong && !s.err && s.status == http.StatusOK {
						wrong[t.name]++
					}
				}
			}
		}
		dm := res["direct"]
		for _, t := range ts {
			m := res[t.name]
			a50, a99, cpu, rss := "–", "–", "–", "–"
			if t.name != "direct" {
				a50, a99 = diff(m["p50"], dm["p50"]).f(2), diff(m["p99"], dm["p99"]).f(2)
				cpu, rss = m["cpu"].f(0), m["rss"].f(0)
				ls := added[t.name]
				for i, v := range []float64{diff(m["p50"], dm["p50"]).agg().med, diff(m["p99"], dm["p99"]).agg().med} {
					if m["tput"].agg().med == 0 { // nothing answered: no latency to draw
						v = math.NaN()
					}
					ls[i].xs, ls[i].ys = append(ls[i].xs, rate), append(ls[i].ys, v)
				}
			}
			tb.add(fmt.Sprintf("%.0f", rate), t.name, m["p50"].f(2), m["p99"].f(2), a50, a99, m["errors"].f(0), fmt.Sprint(wrong[t.name]), cpu, rss)
			log.Printf("peers %4.0f/s %-28s p50 %s ms p99 %s ms errors %s wrong %d", rate, t.name, m["p50"].f(2), m["p99"].f(2), m["errors"].f(0), wrong[t.name])
		}
	}
	sec.printf("### Passthrough, non-streaming\n\n%s\n", tb)
	var lines []plotLine
	for _, p := range peers[1:] {
		lines = append(lines, added[p.t.name][0], added[p.t.name][1])
	}
	b.chart("peers", "Added latency over direct, by proxy (log scale)", "added latency (ms)", lines)
	if b.o.plot != "" {
		sec.printf("![added latency of each proxy against the rate](%s)\n\n", b.chartPath("peers"))
	}

	ts := mk(true)
	res := map[string]metrics{}
	for _, t := range ts {
		res[t.name] = metrics{}
	}
	want := b.o.up.replyWords + 4
	for run := range b.o.runs {
		ws := b.runOpen(ts, b.o.streamRate, run)
		for _, t := range ts {
			m := res[t.name]
			var ttfb []time.Duration
			events, coalesced, errs, wrong := 0, 0, 0, 0
			for _, s := range ws[t.name].samples {
				if !s.ok() {
					errs++
					if s.wrong && !s.err && s.status == http.StatusOK {
						wrong++
					}
					continue
				}
				ttfb = append(ttfb, s.ttfb)
				events += s.events
				coalesced += s.coalesced
			}
			d := summarize(ttfb)
			m.add("ttfb50", ms(d.p50))
			m.add("ttfb99", ms(d.p99))
			m.add("events", float64(events)/float64(max(len(ttfb), 1)))
			m.add("coalesced", float64(coalesced))
			m.add("errors", float64(errs))
			m.add("wrong", float64(wrong))
			if u := ws[t.name].use; len(u.cpu) > 1 {
				m.add("cpu", u.cpu[1])
				m.add("rss", u.rss[1])
			}
		}
	}
	st := newTable("path", "TTFB p50 ms", "TTFB p99 ms", "events per stream", "coalesced events", "errors", "wrong answers", "CPU %", "RSS MiB")
	for _, t := range ts {
		m := res[t.name]
		cpu, rss := "–", "–"
		if t.name != "direct" {
			cpu, rss = m["cpu"].f(0), m["rss"].f(0)
		}
		st.add(t.name, m["ttfb50"].f(2), m["ttfb99"].f(2), m["events"].f(0), m["coalesced"].f(0), m["errors"].f(0), m["wrong"].f(0), cpu, rss)
	}
	sec.printf("### Streaming at %.0f streams/s\n\nEach answer is %d events from the upstream, %v apart; a proxy may re-frame them "+
		"(events per stream), and *coalesced* counts events that arrived in one read with the one before.\n\n%s\n",
		b.o.streamRate, want, b.o.up.chunkDelay, st)
	sec.printf("Not measured: %s.\n", strings.Join(missing, "; "))
	b.emit(sec)
	return nil
}

// firstLine is the first line of err's message.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
