package bench

import (
	"fmt"
	"image"
	"time"
)

// WriteChart draws the latency distributions: ADD and DEL through cnitool per variant, the parallel
// ADDs per scenario, and the real agent's ADD split.
func (res *Results) WriteChart(path string) error {
	const width, height = 1400, 1900
	c := newCanvas(width, height)
	y := 20
	c.text(20, y, "cilium-chain vs upstream cilium-cni v1.20.2 (generic-veth)", 3, black)
	y += 34
	c.text(20, y, fmt.Sprintf("make bench, %s, %d cores shared, load average at start %s", res.Started.Format("2006-01-02 15:04 MST"), res.Machine.Cores, res.Machine.LoadStart), 2, mid)
	y += 40
	c.text(20, y, "dots: samples; box: p25-p75; whiskers: p5-p95; bar: median; red: failed ADD; past p99: at the right edge", 2, mid)
	y += 40
	if o := res.Overhead; o != nil {
		var adds, dels []row
		for i, v := range o.Variants {
			adds = append(adds, row{Label: fmt.Sprintf("(%s) %s", v.Key, v.Label), OK: o.Add[i]})
			dels = append(dels, row{Label: fmt.Sprintf("(%s) %s", v.Key, v.Label), OK: o.Del[i]})
		}
		y = c.panel(y, width, fmt.Sprintf("ADD via cnitool, Flannel chain, fake agent (%d rounds)", len(o.Add[0])), "ms", time.Millisecond, adds)
		y = c.panel(y, width, "DEL via cnitool, same rounds", "ms", time.Millisecond, dels)
	}
	if len(res.Proc) > 0 {
		var rows []row
		for _, p := range res.Proc {
			var s sample
			for _, r := range p.Add {
				s = append(s, r.Took)
			}
			rows = append(rows, row{Label: p.Variant.Label, OK: s})
		}
		y = c.panel(y, width, "one plugin ADD process, exec'd directly (wall time)", "ms", time.Millisecond, rows)
	}
	if len(res.Conc) > 0 {
		var rows []row
		for _, cr := range res.Conc {
			r := row{Label: fmt.Sprintf("%s %s %s", cr.Limit.Name, short(cr.Variant), cr.Note)}
			ok := map[time.Duration]int{}
			for _, d := range cr.AddOKLat {
				ok[d]++
			}
			for _, d := range cr.Add {
				if ok[d] > 0 {
					ok[d]--
					r.OK = append(r.OK, d)
				} else {
					r.Failed = append(r.Failed, d)
				}
			}
			rows = append(rows, r)
		}
		y = c.panel(y, width, fmt.Sprintf("%d ADDs at once: latency of each pod, rate-limiting fake agent", res.Opts.Pods), "s", time.Second, rows)
	}
	if len(res.Real) > 0 {
		var rows []row
		for _, r := range res.Real {
			rows = append(rows, row{Label: short(r.Variant) + " ADD", OK: r.Wall}, row{Label: short(r.Variant) + " its PUT", OK: r.PUT})
		}
		y = c.panel(y, width, "real cilium-agent: plugin ADD and the PUT inside it", "ms", time.Millisecond, rows)
	}
	c.img = c.img.SubImage(image.Rect(0, 0, width, min(y, height))).(*image.RGBA) // crop what is unused
	return c.save(path)
}

func short(v variant) string {
	switch v.Type {
	case upstreamType:
		return "upstream"
	case chainType:
		return "cilium-chain"
	}
	return v.Label
}
