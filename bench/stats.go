package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// quantile returns the q-quantile (0..1) of sorted, by the nearest-rank
// method; 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// dist summarises a sample of durations.
type dist struct {
	n                  int
	p50, p99, p999, mx time.Duration
}

func summarize(ds []time.Duration) dist {
	s := slices.Clone(ds)
	slices.Sort(s)
	d := dist{n: len(s)}
	if len(s) > 0 {
		d.p50, d.p99, d.p999, d.mx = quantile(s, 0.5), quantile(s, 0.99), quantile(s, 0.999), s[len(s)-1]
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// series is one figure measured in each run.
type series []float64

// agg is a figure over runs: the median and the spread.
type agg struct {
	med, lo, hi float64
	n           int
}

func (s series) agg() agg {
	if len(s) == 0 {
		return agg{med: math.NaN(), lo: math.NaN(), hi: math.NaN()}
	}
	c := slices.Clone([]float64(s))
	slices.Sort(c)
	med := c[len(c)/2]
	if len(c)%2 == 0 {
		med = (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	return agg{med: med, lo: c[0], hi: c[len(c)-1], n: len(c)}
}

// format renders an aggregate as "median [min–max]" with prec decimals.
func (a agg) format(prec int) string {
	if math.IsNaN(a.med) {
		return "–"
	}
	if a.n <= 1 {
		return fmt.Sprintf("%.*f", prec, a.med)
	}
	return fmt.Sprintf("%.*f [%.*f – %.*f]", prec, a.med, prec, a.lo, prec, a.hi)
}

// f formats a series' aggregate with prec decimals.
func (s series) f(prec int) string { return s.agg().format(prec) }

// diff returns a[i] - b[i] for each run.
func diff(a, b series) series {
	out := make(series, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i] - b[i]
	}
	return out
}

// ratio returns a[i] / b[i] for each run.
func ratio(a, b series) series {
	out := make(series, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i] / b[i]
	}
	return out
}
