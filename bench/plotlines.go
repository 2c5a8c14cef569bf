package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"log"
	"math"
	"path/filepath"
	"strings"
)

// A plotLine is one series of a line chart: a label, its points (NaN
// where nothing was measured), and how it is drawn.
type plotLine struct {
	label  string
	xs, ys []float64
	col    color.Color
	dashed bool
}

// lineColors are the colours of a chart's series, in order.
var lineColors = []color.Color{colSidecar, colBare, colDirect, color.RGBA{44, 160, 44, 254},
	color.RGBA{148, 103, 189, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{140, 86, 75, 255}}

// writeLines draws lines against a linear x axis and a logarithmic y
// axis (ms), for figures that span several orders of magnitude, such as
// proxies from a fraction of a millisecond to seconds of added latency.
// Values under floor are drawn at floor; values at or below zero (an
// added latency the direct path's outliers made negative) are not drawn.
func writeLines(path, title, subtitle, xlabel, ylabel string, floor float64, lines []plotLine) error {
	lo, hi, xmax := math.Inf(1), math.Inf(-1), 0.0
	for _, l := range lines {
		for i, y := range l.ys {
			if math.IsNaN(y) || y <= 0 {
				continue
			}
			y = max(y, floor)
			lo, hi = min(lo, y), max(hi, y)
			xmax = max(xmax, l.xs[i])
		}
	}
	if math.IsInf(lo, 1) {
		return fmt.Errorf("nothing to plot in %s", path)
	}
	const W, H = 900, 560
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	c := canvas{img}
	xstep := niceStep(xmax, 6)
	// The y axis holds log10 of the values, on whole decades, with the
	// legend's height free above the data.
	const top, bottom = 90, 470
	rows := len(lines)
	if rows > 4 { // two columns
		rows = (rows + 1) / 2
	}
	free := float64(rows*18+24) / float64(bottom-top)
	ymin := math.Floor(math.Log10(lo))
	ymax := math.Ceil((math.Log10(hi) - ymin*free) / (1 - free))
	p := panel{c: c, x0: 90, y0: top, x1: W - 40, y1: bottom, xmin: 0, xmax: math.Ceil(xmax*1.05/xstep) * xstep, ymin: ymin, ymax: ymax}
	p.axesLog(title, xlabel, ylabel, xstep)
	var entries []legendEntry
	for _, l := range lines {
		ys := make([]float64, len(l.ys))
		for i, y := range l.ys {
			ys[i] = math.NaN()
			if !math.IsNaN(y) && y > 0 {
				ys[i] = math.Log10(max(y, floor))
			}
		}
		dash := 0
		if l.dashed {
			dash = 8
		}
		p.series(l.xs, ys, l.col, dash)
		entries = append(entries, legendEntry{l.col, l.dashed, l.label})
	}
	p.legend(p.x0+16, p.y0+14, entries[:rows])
	p.legend((p.x0+p.x1)/2+16, p.y0+14, entries[rows:])
	c.text(W/2-textWidth(subtitle)/2, H-18, subtitle, colAxis)
	return savePNG(path, img)
}

// axesLog is axes for a y axis of log10 values: a grid line and label at
// each decade.
func (p panel) axesLog(title, xlabel, ylabel string, xstep float64) {
	for y := p.ymin; y <= p.ymax+1e-9; y++ {
		p.c.line(p.x0, p.py(y), p.x1, p.py(y), 1, 0, colGrid)
		l := fmt.Sprintf("%g", math.Pow(10, y))
		p.c.text(p.x0-8-textWidth(l), p.py(y)+4, l, colAxis)
	}
	p.frame(title, xlabel, ylabel, xstep)
}

// A chart is a line chart a section drew, written beside -plot with its
// name as a suffix (bench/latency.png: bench/latency-peers.png).
type chart struct {
	name, title, ylabel string
	lines               []plotLine
}

// chart records a section's chart of latency (ms) against the rate.
func (b *bench) chart(name, title, ylabel string, lines []plotLine) {
	b.charts = append(b.charts, chart{name: name, title: title, ylabel: ylabel, lines: lines})
}

// chartPath is where the chart called name is written, relative to the
// report (-out), as the report links it.
func (b *bench) chartPath(name string) string {
	ext := filepath.Ext(b.o.plot)
	p := strings.TrimSuffix(b.o.plot, ext) + "-" + name + ext
	if b.o.out != "" {
		if rel, err := filepath.Rel(filepath.Dir(b.o.out), p); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return p
}

// writeCharts writes the sections' charts beside -plot.
func (b *bench) writeCharts() error {
	if b.o.plot == "" {
		return nil
	}
	sub := fmt.Sprintf("%s; %d run(s) of %v per point", machineShort(), b.o.runs, b.o.dur)
	for _, c := range b.charts {
		ext := filepath.Ext(b.o.plot)
		path := strings.TrimSuffix(b.o.plot, ext) + "-" + c.name + ext
		if err := writeLines(path, c.title, sub, "rate (requests/s)", c.ylabel, 0.1, c.lines); err != nil {
			return err
		}
		log.Printf("wrote %s", path)
	}
	return nil
}
