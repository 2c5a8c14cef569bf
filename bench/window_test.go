package main

import (
	"slices"
	"testing"
	"time"
)

func TestRotate(t *testing.T) {
	xs := []int{1, 2, 3}
	for run, want := range [][]int{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}, {1, 2, 3}} {
		if got := rotate(xs, run); !slices.Equal(got, want) {
			t.Errorf("rotate(%v, %d) = %v, want %v", xs, run, got, want)
		}
	}
	if !slices.Equal(xs, []int{1, 2, 3}) {
		t.Errorf("rotate changed its input: %v", xs)
	}
}

func TestMergeWeighsByTime(t *testing.T) {
	a := window{samples: []sample{{status: 200}}, elapsed: time.Second, allocs: 10, gcs: 1, addedSum: 0.5, addedCount: 5,
		use: usage{cpu: []float64{10, 40}, rss: []float64{20, 30}, machine: 50}}
	b := window{samples: []sample{{status: 200}, {status: 500}}, elapsed: 3 * time.Second, allocs: 30, gcs: 2, addedSum: 1.5, addedCount: 15,
		use: usage{cpu: []float64{20, 80}, rss: []float64{25, 10}, machine: 10}}
	m := merge(merge(window{}, a), b)
	if len(m.samples) != 3 || m.elapsed != 4*time.Second {
		t.Fatalf("merged %d samples over %v", len(m.samples), m.elapsed)
	}
	if m.allocs != 40 || m.gcs != 3 || m.addedSum != 2 || m.addedCount != 20 {
		t.Errorf("counters: %+v", m)
	}
	if !slices.Equal(m.use.cpu, []float64{17.5, 70}) {
		t.Errorf("cpu = %v, want the time-weighted means [17.5 70]", m.use.cpu)
	}
	if !slices.Equal(m.use.rss, []float64{25, 30}) {
		t.Errorf("rss = %v, want the peaks [25 30]", m.use.rss)
	}
	if m.use.machine != 20 {
		t.Errorf("machine = %v, want 20", m.use.machine)
	}
}

func TestRecordCountsErrorsApart(t *testing.T) {
	w := window{elapsed: 2 * time.Second, use: usage{cpu: []float64{5}, rss: []float64{1}}, samples: []sample{
		{status: 200, lat: time.Millisecond}, {status: 200, lat: 3 * time.Millisecond},
		{status: 502, lat: time.Second}, {err: true},
	}}
	m := metrics{}
	d := w.record(m)
	if d.n != 2 || d.p50 != time.Millisecond || d.p99 != 3*time.Millisecond {
		t.Errorf("latency of the answered requests only: %+v", d)
	}
	if m["errors"][0] != 2 || m["tput"][0] != 1 {
		t.Errorf("errors %v, throughput %v; want 2 and 1/s", m["errors"], m["tput"])
	}
	if _, ok := m["cpu"]; ok {
		t.Errorf("a direct window recorded a proxy's CPU")
	}
}
