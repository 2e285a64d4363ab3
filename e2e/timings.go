//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// timings collects what the issue asks to measure; compare only within one run (2 loaded cores).
type timings struct {
	agentBuild  string
	agentAPIUps []time.Duration // start → API answers
	agentStarts []time.Duration // start → state Ok and the host endpoint's datapath loaded
	firstAdd    time.Duration   // cnitool ADD (Flannel + cilium-chain), first endpoint of an agent run
	laterAdds   []time.Duration
	dels        []time.Duration
	queuedDel   time.Duration // DEL with the agent stopped
	drain       time.Duration // agent restart → queued endpoint gone
}

// add records an ADD duration, the first one separately (it waits for the datapath template compile).
func (tm *timings) add(d time.Duration) {
	if tm.firstAdd == 0 {
		tm.firstAdd = d
		return
	}
	tm.laterAdds = append(tm.laterAdds, d)
}

func (tm *timings) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "agent build (peers.sh): %s\n", tm.agentBuild)
	fmt.Fprintf(&b, "agent start → API answering: %s\n", durs(tm.agentAPIUps))
	fmt.Fprintf(&b, "agent start → ready (state Ok, host endpoint loaded): %s\n", durs(tm.agentStarts))
	fmt.Fprintf(&b, "first ADD: %s\n", tm.firstAdd.Round(time.Millisecond))
	fmt.Fprintf(&b, "later ADDs: %s\n", stats(tm.laterAdds))
	fmt.Fprintf(&b, "DELs: %s\n", stats(tm.dels))
	fmt.Fprintf(&b, "DEL with agent stopped: %s\n", tm.queuedDel.Round(time.Millisecond))
	fmt.Fprintf(&b, "restart → queued endpoint deleted: %s", tm.drain.Round(time.Millisecond))
	return b.String()
}

func durs(ds []time.Duration) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Round(time.Millisecond).String())
	}
	return strings.Join(out, ", ")
}

// stats is "median m, min a, max b (n)".
func stats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("median %s, min %s, max %s (n=%d)", r(s[len(s)/2]), r(s[0]), r(s[len(s)-1]), len(s))
}
