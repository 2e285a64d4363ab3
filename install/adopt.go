package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/sirupsen/logrus"

	"github.com/cilium-chain/cilium-chain/chain"
)

// adoptionGauges receives every pass's counts: the metrics registry implements it.
type adoptionGauges interface {
	setAdoption(adopted, managed, unmanaged int, passFailed bool)
}

// adopter runs adoption passes (chain.Adoption) off the watch loop, once our conflist is in place, and
// keeps the last pass's report for /readyz, the logs and the metrics. A pass takes as long as the agent
// needs per pod; the loop only hands over the conflist and never waits for it.
type adopter struct {
	cfg    *config
	log    *logrus.Logger
	gauges adoptionGauges // nil: no metrics registry
	repair *repairer      // nil: repair is off

	start sync.Once
	wake  chan struct{}

	mu       sync.Mutex
	conflist []byte // what the next pass adopts for
	report   adoptionReport
}

// adoptionReport is the last pass as /readyz shows it.
type adoptionReport struct {
	ran       bool
	err       error
	unmanaged []chain.AttachmentReport
	adopted   int
	managed   int
}

func newAdopter(cfg *config, log *logrus.Logger) *adopter {
	return &adopter{cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// trigger asks for a pass over the conflist now in place; passes never overlap, and a burst of
// triggers while one runs makes one more.
func (a *adopter) trigger(ctx context.Context, conflist []byte) {
	a.start.Do(func() { go a.loop(ctx) })
	a.mu.Lock()
	a.conflist = conflist
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *adopter) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
			a.mu.Lock()
			conflist := a.conflist
			a.mu.Unlock()
			rep := a.pass(ctx, conflist)
			a.record(rep)
			if a.repair != nil && rep.err == nil {
				a.repair.run(ctx, rep.unmanaged)
			}
		}
	}
}

// pass adopts (or, with --adopt=false, only lists) the cached attachments of our network.
func (a *adopter) pass(ctx context.Context, conflist []byte) adoptionReport {
	var confs []*chain.Config
	list, err := libcni.ConfListFromBytes(conflist)
	if err == nil {
		confs, err = ourEntries(list)
	}
	if err == nil && len(confs) == 0 {
		err = fmt.Errorf("our conflist has no %s entry", pluginType)
	}
	if err != nil {
		return adoptionReport{ran: true, err: err}
	}
	conf := *confs[0]
	// The plugin uses host paths; we use them where they are mounted.
	conf.SocketPath, conf.StateDir = a.cfg.agentSocket, a.cfg.stateDir
	pass := chain.Adoption{
		Conf: &conf, CacheDir: filepath.Join(a.cfg.cniCacheDir, "results"), ReportOnly: !a.cfg.adopt,
		Log: logrus.NewEntry(a.log).WithField("network", conf.Name),
	}
	reps, err := pass.Run(ctx)
	rep := adoptionReport{ran: true, err: err}
	for _, r := range reps {
		switch r.Outcome {
		case chain.OutcomeAdopted:
			rep.adopted++
		case chain.OutcomeManaged:
			rep.managed++
		default:
			rep.unmanaged = append(rep.unmanaged, r)
		}
	}
	return rep
}

// record keeps the report and logs what changed: each newly unmanaged pod once, with its reason.
func (a *adopter) record(rep adoptionReport) {
	a.mu.Lock()
	prev := a.report
	a.report = rep
	a.mu.Unlock()
	if a.gauges != nil {
		a.gauges.setAdoption(rep.adopted, rep.managed, len(rep.unmanaged), rep.err != nil)
	}
	if rep.err != nil {
		if prev.err == nil || prev.err.Error() != rep.err.Error() {
			a.log.WithError(rep.err).Warn("adoption pass failed; retrying on the next resync")
		}
		return
	}
	was := map[string]string{}
	for _, r := range prev.unmanaged {
		was[r.String()] = r.Reason
	}
	for _, r := range rep.unmanaged {
		if reason, ok := was[r.String()]; ok && reason == r.Reason {
			continue
		}
		a.log.WithFields(logrus.Fields{"namespace": r.Namespace, "pod": r.Pod, "containerID": r.ContainerID,
			"ifname": r.IfName, "reason": r.Reason}).Warn("pod runs without a Cilium endpoint (unmanaged)")
	}
	if rep.adopted > 0 || len(rep.unmanaged) != len(prev.unmanaged) || prev.err != nil || !prev.ran {
		a.log.WithFields(logrus.Fields{"adopted": rep.adopted, "managed": rep.managed, "unmanaged": len(rep.unmanaged)}).
			Info("adoption pass done")
	}
}

// details is the adoption part of /readyz: the unmanaged pods, sorted, one a line.
func (a *adopter) details() string {
	a.mu.Lock()
	rep := a.report
	a.mu.Unlock()
	b := &strings.Builder{}
	mode := "on"
	if !a.cfg.adopt {
		mode = "off (report only)"
	}
	switch {
	case !rep.ran:
		fmt.Fprintf(b, "adoption %s: no pass yet\n", mode)
		return b.String()
	case rep.err != nil:
		fmt.Fprintf(b, "adoption %s: last pass failed: %v\n", mode, rep.err)
		return b.String()
	}
	fmt.Fprintf(b, "adoption %s: %d adopted by the last pass, %d managed, %d unmanaged\n", mode, rep.adopted, rep.managed, len(rep.unmanaged))
	lines := make([]string, 0, len(rep.unmanaged))
	for _, r := range rep.unmanaged {
		lines = append(lines, fmt.Sprintf("unmanaged %s: %s\n", r, r.Reason))
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, ""))
	if a.repair != nil {
		b.WriteString(a.repair.details())
	}
	return b.String()
}
