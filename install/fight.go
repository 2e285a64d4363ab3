package main

import "time"

// fightDetector notices another writer that keeps changing our conflist (a second installer, or
// Cilium's agent writing its own 05-cilium.conflist), so we back off instead of flapping the file.
type fightDetector struct {
	threshold int
	window    time.Duration
	hits      []time.Time
}

func newFightDetector(threshold int, window time.Duration) *fightDetector {
	return &fightDetector{threshold: threshold, window: window}
}

// record notes one foreign change at now and reports whether the threshold within the window is
// reached; it then starts counting afresh.
func (d *fightDetector) record(now time.Time) bool {
	kept := d.hits[:0]
	for _, t := range d.hits {
		if now.Sub(t) < d.window {
			kept = append(kept, t)
		}
	}
	d.hits = append(kept, now)
	if len(d.hits) >= d.threshold {
		d.hits = nil
		return true
	}
	return false
}
