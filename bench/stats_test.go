package main

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestQuantileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0, 1 * time.Millisecond},
		{0.01, 1 * time.Millisecond},
		{0.5, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{0.999, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
	} {
		if got := quantile(ds, c.q); got != c.want {
			t.Errorf("quantile(1..100 ms, %v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(none) = %v, want 0", got)
	}
	if got := quantile([]time.Duration{7}, 0.999); got != 7 {
		t.Errorf("quantile(one, 0.999) = %v, want 7", got)
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	in := []time.Duration{5, 1, 4, 2, 3}
	orig := slices.Clone(in)
	d := summarize(in)
	if !slices.Equal(in, orig) {
		t.Errorf("summarize reordered its input: %v", in)
	}
	if d.n != 5 || d.p50 != 3 || d.p99 != 5 || d.p999 != 5 || d.mx != 5 {
		t.Errorf("summarize = %+v", d)
	}
	if d := summarize(nil); d != (dist{}) {
		t.Errorf("summarize(nil) = %+v, want zero", d)
	}
}

func TestSeriesAgg(t *testing.T) {
	odd := series{3, 1, 2}.agg()
	if odd.med != 2 || odd.lo != 1 || odd.hi != 3 || odd.n != 3 {
		t.Errorf("agg of 3 values = %+v", odd)
	}
	even := series{4, 1, 3, 2}.agg()
	if even.med != 2.5 {
		t.Errorf("median of 1,2,3,4 = %v, want 2.5", even.med)
	}
	if got := (series{2, 1, 3}).f(2); got != "2.00 [1.00 – 3.00]" {
		t.Errorf("f = %q", got)
	}
	if got := (series{1.5}).f(1); got != "1.5" {
		t.Errorf("one run: f = %q, want no range", got)
	}
	if a := (series{}).agg(); !math.IsNaN(a.med) {
		t.Errorf("empty series: median %v, want NaN", a.med)
	}
	if got := (series{}).f(3); got != "–" {
		t.Errorf("empty series: f = %q, want –", got)
	}
}

func TestDiffRatioRunByRun(t *testing.T) {
	a, b := series{3, 5, 9}, series{1, 4}
	if got := diff(a, b); !slices.Equal(got, series{2, 1}) {
		t.Errorf("diff = %v", got)
	}
	if got := ratio(a, b); !slices.Equal(got, series{3, 1.25}) {
		t.Errorf("ratio = %v", got)
	}
	// The median of the differences, not the difference of the medians.
	if got := diff(series{10, 1, 5}, series{9, 0, 0}).agg().med; got != 1 {
		t.Errorf("median of run-by-run differences = %v, want 1", got)
	}
}
