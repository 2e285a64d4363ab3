package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"time"
)

// canvas draws the chart with the standard library only: rectangles, dots and 5×7 text.
type canvas struct{ img *image.RGBA }

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{30, 30, 30, 255}
	grey  = color.RGBA{200, 200, 200, 255}
	mid   = color.RGBA{110, 110, 110, 255}
	light = color.RGBA{236, 236, 236, 255}
	red   = color.RGBA{200, 40, 40, 255}
	// by variant key: one colour per plugin in every panel
	variantColors = map[string]color.RGBA{"a": {110, 110, 110, 255}, "b": {90, 140, 200, 255}, "c": {230, 140, 40, 255}, "d": {40, 150, 80, 255},
		"bi": {150, 180, 225, 255}, "dd": {120, 200, 140, 255}}
)

func newCanvas(w, h int) *canvas {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	c.rect(0, 0, w, h, white)
	return c
}

func (c *canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	for y := max(y0, 0); y < min(y1, c.img.Bounds().Dy()); y++ {
		for x := max(x0, 0); x < min(x1, c.img.Bounds().Dx()); x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

// blend paints a translucent dot so dense regions read darker.
func (c *canvas) blend(x, y, r int, col color.RGBA, alpha float64) {
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy > r*r || !(image.Point{x + dx, y + dy}.In(c.img.Bounds())) {
				continue
			}
			o := c.img.RGBAAt(x+dx, y+dy)
			mix := func(a, b uint8) uint8 { return uint8(float64(a)*(1-alpha) + float64(b)*alpha) }
			c.img.SetRGBA(x+dx, y+dy, color.RGBA{mix(o.R, col.R), mix(o.G, col.G), mix(o.B, col.B), 255})
		}
	}
}

// text draws s with its top-left at (x, y), scale pixels per font dot; it returns the width.
func (c *canvas) text(x, y int, s string, scale int, col color.RGBA) int {
	cx := x
	for _, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for gy, row := range g {
			for gx, dot := range row {
				if dot == '#' {
					c.rect(cx+gx*scale, y+gy*scale, cx+(gx+1)*scale, y+(gy+1)*scale, col)
				}
			}
		}
		cx += (glyphW + 1) * scale
	}
	return cx - x
}

func textWidth(s string, scale int) int { return len([]rune(s)) * (glyphW + 1) * scale }

func (c *canvas) save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, c.img); err != nil {
		f.Close()
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return f.Close()
}

// row is one distribution in a panel; failed samples are drawn in red.
type row struct {
	Label  string
	Color  color.RGBA
	OK     sample
	Failed sample
}

// panel draws rows of dots with a p25–p75 box, p5–p95 whiskers and a median bar on a shared axis.
func (c *canvas) panel(top, width int, title, unit string, div time.Duration, rows []row) int {
	const left, labelW, rowH = 20, 390, 44
	scale := 2
	c.text(left, top, title, scale, black)
	top += 28
	x0, x1 := left+labelW, width-40
	// The axis ends a quarter past the largest p95: a few outliers (the cores are shared) must not
	// squeeze the boxes; they are drawn at the right edge.
	var hi time.Duration
	for _, r := range rows {
		all := append(append(sample{}, r.OK...), r.Failed...)
		hi = max(hi, all.quantile(0.95)*5/4)
	}
	step := niceStep(float64(hi)/float64(div), 6)
	axisMax := math.Ceil(float64(hi)/float64(div)/step) * step
	if axisMax <= 0 {
		axisMax = 1
	}
	xOf := func(d time.Duration) int {
		v := math.Min(float64(d)/float64(div), axisMax)
		return x0 + int(v/axisMax*float64(x1-x0))
	}
	bottom := top + rowH*len(rows)
	for v := 0.0; v <= axisMax+step/2; v += step {
		x := x0 + int(v/axisMax*float64(x1-x0))
		c.rect(x, top, x+1, bottom, light)
		label := fmt.Sprintf("%g", math.Round(v*100)/100)
		c.text(x-textWidth(label, scale)/2, bottom+6, label, scale, black)
	}
	c.text(x1-textWidth(unit, scale), bottom+28, unit, scale, black)
	for i, r := range rows {
		y := top + i*rowH + rowH/2
		col := r.Color
		c.text(left, y-7, r.Label, scale, black)
		all := append(append(sample{}, r.OK...), r.Failed...)
		if len(all) == 0 {
			continue
		}
		for j, d := range r.OK {
			c.blend(xOf(d), y+jitter(j, 14), 3, col, 0.5)
		}
		for j, d := range r.Failed {
			c.blend(xOf(d), y+jitter(j+7, 14), 3, red, 0.6)
		}
		q := all.quantile
		c.rect(xOf(q(0.05)), y, xOf(q(0.95))+1, y+1, black)
		c.rect(xOf(q(0.25)), y-9, xOf(q(0.75))+1, y-8, black)
		c.rect(xOf(q(0.25)), y+8, xOf(q(0.75))+1, y+9, black)
		c.rect(xOf(q(0.25)), y-9, xOf(q(0.25))+1, y+9, black)
		c.rect(xOf(q(0.75)), y-9, xOf(q(0.75))+1, y+9, black)
		c.rect(xOf(q(0.5))-1, y-12, xOf(q(0.5))+2, y+12, black)
	}
	c.rect(x0, bottom, x1+1, bottom+1, grey)
	return bottom + 56
}

// jitter spreads dots vertically in a deterministic pattern within ±h/2.
func jitter(i, h int) int { return (i*7919)%h - h/2 }

// niceStep picks 1, 2 or 5 × 10^k so that span has about n steps.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}
