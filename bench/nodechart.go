package bench

import (
	"fmt"
	"image"
	"time"
)

// NodeChart is a chart drawn with this package's canvas for benchmarks that run elsewhere (make
// bench-cluster, e2e/cluster's bench mode): one panel of dot distributions per figure.
type NodeChart struct {
	Title, Subtitle, Legend string
	Panels                  []NodePanel
}

// NodePanel is one distribution panel on a shared axis in Unit (Div per unit).
type NodePanel struct {
	Title, Unit string
	Div         time.Duration
	Rows        []NodeRow
}

// NodeRow is one distribution; Key picks the colour the other charts use for that plugin ("a" the
// primary alone, "c" upstream cilium-cni, "d" cilium-chain); Failed samples are drawn in red.
type NodeRow struct {
	Label, Key string
	OK, Failed []time.Duration
}

// Write renders the chart as PNG.
func (ch NodeChart) Write(path string) error {
	const width, height = 1400, 2400
	c := newCanvas(width, height)
	y := 20
	c.text(20, y, ch.Title, 3, black)
	y += 34
	c.text(20, y, ch.Subtitle, 2, mid)
	y += 40
	if ch.Legend != "" {
		c.text(20, y, ch.Legend, 2, mid)
		y += 40
	}
	for _, p := range ch.Panels {
		rows := make([]row, 0, len(p.Rows))
		for _, r := range p.Rows {
			rows = append(rows, row{Label: r.Label, Color: variantColors[r.Key], OK: r.OK, Failed: r.Failed})
		}
		y = c.panel(y, width, p.Title, p.Unit, p.Div, rows)
	}
	c.img = c.img.SubImage(image.Rect(0, 0, width, min(y, height))).(*image.RGBA)
	return c.save(path)
}

// Quantile is the nearest-rank quantile every report of this package uses.
func Quantile(d []time.Duration, q float64) time.Duration { return sample(d).quantile(q) }

// MachineLine describes this machine as the reports of this package do (CPU, memory, kernel, OS,
// Go); LoadAverage is its load now.
func MachineLine() string {
	m := describeMachine()
	return fmt.Sprintf("%d × %s, %s RAM, Linux %s, %s, %s", m.Cores, m.CPU, m.Memory, m.Kernel, m.OS, m.Go)
}

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures.
func LoadAverage() string { return loadavg() }
