package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// A plotPoint is the passthrough test at one rate: medians over runs, in
// ms. The added figures are the medians of the run-by-run differences,
// as in the report's tables, for the sidecar and the bare Go proxy.
type plotPoint struct {
	rate                               float64
	direct50, direct99, side50, side99 float64
	added50, added99, bare50, bare99   float64
}

var (
	colDirect  = color.RGBA{31, 119, 180, 255}
	colSidecar = color.RGBA{230, 110, 20, 255}
	colGrid    = color.RGBA{225, 225, 225, 255}
	colAxis    = color.RGBA{60, 60, 60, 255}
	colGoal    = color.RGBA{44, 160, 44, 255}
	colBare    = color.RGBA{130, 130, 130, 255}
)

// canvas draws lines, points and text on an RGBA image.
type canvas struct{ img *image.RGBA }

func (c canvas) dot(x, y, r int, col color.Color) {
	draw.Draw(c.img, image.Rect(x-r, y-r, x+r+1, y+r+1), image.NewUniform(col), image.Point{}, draw.Src)
}

// line draws from (x0,y0) to (x1,y1), width w; dash > 0 draws dashes of
// that many pixels.
func (c canvas) line(x0, y0, x1, y1, w, dash int, col color.Color) {
	dx, dy := x1-x0, y1-y0
	n := max(abs(dx), abs(dy))
	for i := 0; i <= n; i++ {
		if dash > 0 && (i/dash)%2 == 1 {
			continue
		}
		x, y := x0, y0
		if n > 0 {
			x, y = x0+dx*i/n, y0+dy*i/n
		}
		c.dot(x, y, w/2, col)
	}
}

func abs[T int | float64](x T) T {
	if x < 0 {
		return -x
	}
	return x
}

func (c canvas) text(x, y int, s string, col color.Color) {
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func textWidth(s string) int { return len(s) * 7 }

// panel is one chart: its area on the canvas and its axes' ranges.
type panel struct {
	c                      canvas
	x0, y0, x1, y1         int // plot area, y0 at the top
	xmin, xmax, ymin, ymax float64
}

func (p panel) px(x float64) int {
	return p.x0 + int(math.Round((x-p.xmin)/(p.xmax-p.xmin)*float64(p.x1-p.x0)))
}

func (p panel) py(y float64) int {
	return p.y1 - int(math.Round((y-p.ymin)/(p.ymax-p.ymin)*float64(p.y1-p.y0)))
}

// axes draws the grid, the ticks and their labels, and the titles.
func (p panel) axes(title, xlabel, ylabel string, xstep, ystep float64, yfmt string) {
	for y := math.Ceil(p.ymin/ystep) * ystep; y <= p.ymax+1e-9; y += ystep {
		p.c.line(p.x0, p.py(y), p.x1, p.py(y), 1, 0, colGrid)
		l := fmt.Sprintf(yfmt, y)
		p.c.text(p.x0-8-textWidth(l), p.py(y)+4, l, colAxis)
	}
	p.frame(title, xlabel, ylabel, xstep)
}

// frame draws what every chart has whatever its y axis: the x grid and
// its labels, both axes and the titles.
func (p panel) frame(title, xlabel, ylabel string, xstep float64) {
	for x := math.Ceil(p.xmin/xstep) * xstep; x <= p.xmax+1e-9; x += xstep {
		p.c.line(p.px(x), p.y0, p.px(x), p.y1, 1, 0, colGrid)
		l := fmt.Sprintf("%.0f", x)
		p.c.text(p.px(x)-textWidth(l)/2, p.y1+18, l, colAxis)
	}
	p.c.line(p.x0, p.y1, p.x1, p.y1, 2, 0, colAxis)
	p.c.line(p.x0, p.y0, p.x0, p.y1, 2, 0, colAxis)
	p.c.text((p.x0+p.x1)/2-textWidth(xlabel)/2, p.y1+38, xlabel, colAxis)
	p.c.text(p.x0-8-textWidth(ylabel)/2+20, p.y0-10, ylabel, colAxis)
	p.c.text((p.x0+p.x1)/2-textWidth(title)/2, p.y0-28, title, color.Black)
}

// savePNG writes img to path.
func savePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// series draws a line through the points with a marker at each.
func (p panel) series(xs, ys []float64, col color.Color, dash int) {
	for i := range xs {
		if math.IsNaN(ys[i]) {
			continue
		}
		if i > 0 && !math.IsNaN(ys[i-1]) {
			p.c.line(p.px(xs[i-1]), p.py(ys[i-1]), p.px(xs[i]), p.py(ys[i]), 3, dash, col)
		}
		p.c.dot(p.px(xs[i]), p.py(ys[i]), 4, col)
	}
}

// legend draws entries (colour, dashed, label) in a column at (x, y).
func (p panel) legend(x, y int, entries []legendEntry) {
	for i, e := range entries {
		yy := y + i*18
		dash := 0
		if e.dashed {
			dash = 6
		}
		w := 3
		if e.col == colGoal { // drawn thin, as the goal lines are
			w, dash = 1, 4
		}
		p.c.line(x, yy, x+34, yy, w, dash, e.col)
		p.c.text(x+42, yy+4, e.label, colAxis)
	}
}

type legendEntry struct {
	col    color.Color
	dashed bool
	label  string
}

// niceStep returns a tick step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// yRange returns a y axis for data from lo to hi, on round ticks, whose
// top part is left free for the legend.
func yRange(lo, hi float64) (ymin, ymax, step float64) {
	span := max(hi-lo, 1e-3) * 1.6
	step = niceStep(span, 6)
	ymin = math.Floor(lo/step) * step
	ymax = math.Ceil((ymin+span)/step) * step
	return ymin, max(ymax, math.Ceil(hi/step)*step+step), step
}

// writePlot draws latency against rate for the direct path and the
// sidecar (p50 solid, p99 dashed), and beside it what the sidecar added.
func writePlot(path string, pts []plotPoint, upstreamLatency string, subtitle string) error {
	if len(pts) == 0 {
		return fmt.Errorf("no passthrough results to plot")
	}
	const W, H = 1200, 560
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	c := canvas{img}
	xs := make([]float64, len(pts))
	col := func() []float64 { return make([]float64, len(pts)) }
	d50, d99, s50, s99, a50, a99, b50, b99 := col(), col(), col(), col(), col(), col(), col(), col()
	lo, hi, alo, ahi := math.Inf(1), math.Inf(-1), 0.0, 1.0
	for i, p := range pts {
		xs[i] = p.rate
		d50[i], d99[i], s50[i], s99[i] = p.direct50, p.direct99, p.side50, p.side99
		a50[i], a99[i], b50[i], b99[i] = p.added50, p.added99, p.bare50, p.bare99
		lo = min(lo, p.direct50, p.side50)
		hi = max(hi, p.direct99, p.side99)
		for _, v := range []float64{a50[i], a99[i], b50[i], b99[i]} {
			if !math.IsNaN(v) {
				alo, ahi = min(alo, v), max(ahi, v)
			}
		}
	}
	xmax := xs[len(xs)-1]
	xstep := niceStep(xmax, 6)
	xmax = math.Ceil(xmax*1.05/xstep) * xstep

	ymin, ymax, ystep := yRange(max(0, lo-0.1*(hi-lo)), hi)
	left := panel{c: c, x0: 80, y0: 90, x1: 560, y1: 470, xmin: 0, xmax: xmax, ymin: ymin, ymax: ymax}
	left.axes("Latency vs rate (upstream answers after "+upstreamLatency+")", "rate (requests/s)", "latency (ms)", xstep, ystep, "%.1f")
	left.series(xs, d99, colDirect, 8)
	left.series(xs, s99, colSidecar, 8)
	left.series(xs, d50, colDirect, 0)
	left.series(xs, s50, colSidecar, 0)
	left.legend(left.x0+16, left.y0+14, []legendEntry{
		{colDirect, false, "direct p50"}, {colSidecar, false, "sidecar p50"},
		{colDirect, true, "direct p99"}, {colSidecar, true, "sidecar p99"},
	})

	amin, amax, astep := yRange(alo, ahi)
	right := panel{c: c, x0: 680, y0: 90, x1: 1160, y1: 470, xmin: 0, xmax: xmax, ymin: amin, ymax: amax}
	right.axes("Added latency (proxy - direct, median of runs)", "rate (requests/s)", "added latency (ms)", xstep, astep, "%.2f")
	// The goals: added p50 ≤ 0.3 ms (the lower line), p99 ≤ 1 ms.
	for _, v := range []float64{0.3, 1} {
		if v >= right.ymin && v <= right.ymax {
			right.c.line(right.x0, right.py(v), right.x1, right.py(v), 1, 4, colGoal)
		}
	}
	right.series(xs, b99, colBare, 8)
	right.series(xs, b50, colBare, 0)
	right.series(xs, a99, colSidecar, 8)
	right.series(xs, a50, colSidecar, 0)
	right.legend(right.x0+16, right.y0+14, []legendEntry{
		{colSidecar, false, "sidecar p50"}, {colSidecar, true, "sidecar p99"},
		{colBare, false, "bare Go proxy p50"}, {colBare, true, "bare Go proxy p99"},
		{colGoal, true, "goals: p50 0.3 ms, p99 1 ms"},
	})

	c.text(W/2-textWidth(subtitle)/2, H-18, subtitle, colAxis)
	return savePNG(path, img)
}
