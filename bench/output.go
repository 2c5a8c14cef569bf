package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The analysis written by hand between these markers survives a rewrite
// of the report.
const (
	notesStart = "<!-- notes: kept when the benchmark rewrites this file -->"
	notesEnd   = "<!-- end of notes -->"
)

// goalOrder is the order of issue 9's, 13's and 16's goals in the summary.
var goalOrder = []string{"pass50", "pass99", "tput2000", "rssidle", "rss1000", "mem50", "mem99", "memE", "ttfb", "coalesce",
	"writer", "learnOnOff", "backlog", "quality-embedded", "quality-milvus",
	// issue 13's, on LoCoMo
	"locomo-static-embedded", "locomo-minilm-embedded", "locomo-static-lite", "locomo-minilm-lite",
	// issue 16's, on Milvus at production scale
	"scaleSearch", "scaleAdded"}

// write prints the goals and writes the report and the plot.
func (b *bench) write() error {
	head := b.header()
	goals := b.goalTable()
	fmt.Println()
	fmt.Println(goals)
	if b.o.plot != "" && len(b.plot) > 0 {
		sub := fmt.Sprintf("%s; median of %d runs of %v per point", machineShort(), b.o.runs, b.o.dur)
		if b.o.runs == 1 {
			sub = fmt.Sprintf("%s; one run of %v per point", machineShort(), b.o.dur)
		}
		if err := writePlot(b.o.plot, b.plot, b.o.up.latency.String(), sub); err != nil {
			return err
		}
		log.Printf("wrote %s", b.o.plot)
	}
	if err := b.writeCharts(); err != nil {
		return err
	}
	if b.o.out == "" {
		return nil
	}
	notes := notesStart + "\n## Notes\n\n(What the figures mean, what was profiled and changed, what remains: written by hand.)\n" + notesEnd
	if old, err := os.ReadFile(b.o.out); err == nil {
		if i := strings.Index(string(old), notesStart); i >= 0 {
			if j := strings.Index(string(old[i:]), notesEnd); j >= 0 {
				notes = string(old[i : i+j+len(notesEnd)])
			}
		}
	}
	var sb strings.Builder
	sb.WriteString(head)
	sb.WriteString("\n## Goals (issue 9)\n\n")
	sb.WriteString(goals)
	sb.WriteString("\n" + notes + "\n")
	if b.o.plot != "" && len(b.plot) > 0 {
		rel, err := filepath.Rel(filepath.Dir(b.o.out), b.o.plot)
		if err != nil {
			rel = b.o.plot
		}
		fmt.Fprintf(&sb, "\n![Latency vs rate, direct and through the sidecar](%s)\n\n"+
			"Left: p50 (solid) and p99 (dashed) latency of the passthrough test against the offered rate, direct (blue) and through the sidecar (orange). "+
			"Right: what the sidecar added (sidecar − direct within each run, the median over runs), with the goals, and what the bare Go reverse proxy added (grey).\n", filepath.ToSlash(rel))
	}
	for _, s := range b.sections {
		sb.WriteString("\n" + s.String())
	}
	if err := os.WriteFile(b.o.out, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", b.o.out)
	return nil
}

func (b *bench) header() string {
	commit := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			commit += " (with uncommitted changes)"
		}
	}
	var sb strings.Builder
	sb.WriteString("# memproxy benchmarks\n\n")
	sb.WriteString("What memproxy adds to an LLM call, measured by `bench/` (the real sidecar binary, a fake OpenAI upstream of fixed latency and the load generator, " +
		"each a process of its own on one machine), with the direct path (client straight to the upstream) measured side by side in the same run. " +
		"Everything runs on loopback; the program refuses any other address.\n\n")
	fmt.Fprintf(&sb, "- **Machine:** %s\n", machine())
	fmt.Fprintf(&sb, "- **Date:** %s; sidecar built from commit %s\n", today(), commit)
	fmt.Fprintf(&sb, "- **Command:** `%s`\n", b.o.command)
	fmt.Fprintf(&sb, "- **Method:** each figure is the median of %d runs, with the range [min – max] over runs. In a run every path is warmed up "+
		"(%v of load), then gets %v of load in slices of %v, the paths alternating slice by slice (the order rotates) so that they share the machine's state; "+
		"*added* is sidecar − direct within a run. "+
		"The load generator, the fake upstream and the sidecar share the %d cores: their contention is in the figures, for both paths.\n",
		b.o.runs, b.o.warm, b.o.dur, min(b.o.slice, b.o.dur), runtime.NumCPU())
	if b.o.quietWait > 0 {
		fmt.Fprintf(&sb, "- **Quiet machine:** before each run the benchmark waited, up to %v, for the machine to be under %.0f%% busy: %v in all",
			b.o.quietWait, b.o.quietBusy, b.waited.Round(time.Second))
		if b.busyRuns > 0 {
			fmt.Fprintf(&sb, "; **%d runs found it still busy and ran anyway**: other work is in their figures", b.busyRuns)
		}
		sb.WriteString(".\n")
	} else {
		sb.WriteString("- **Quiet machine:** not waited for (`-quiet-wait 0`).\n")
	}
	if b.o.quick {
		sb.WriteString("- **-quick:** short windows, few rates and sizes: a check that everything runs, not figures to quote.\n")
	}
	fmt.Fprintf(&sb, "- **Fake upstream:** `internal/fakeupstream` in its own process, answering chat after %v, embeddings after %v, streams with %v between events, answers of %d words.\n",
		b.o.up.latency, b.o.up.embedLatency, b.o.up.chunkDelay, b.o.up.replyWords)
	fmt.Fprintf(&sb, "- **Sidecar:** default settings (info logs, one line per request, to a file), unless a section says otherwise.\n")
	return sb.String()
}

func (b *bench) goalTable() string {
	tb := newTable("goal", "target", "measured", "met")
	for _, k := range goalOrder {
		g, ok := b.goals[k]
		if !ok || !g.known {
			continue
		}
		met := "**no**"
		switch {
		case g.unjudged:
			met = "–"
		case g.met:
			met = "yes"
		}
		tb.add(g.what, g.target, g.measured, met)
	}
	return tb.String()
}

func machineShort() string {
	m := machine()
	if i := strings.Index(m, ", Linux"); i > 0 {
		return m[:i]
	}
	return m
}
