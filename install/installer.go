package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// retryInterval is how soon a failed step (a write, a read) is tried again.
const retryInterval = time.Second

// noPrimary is the source of the desired state when there is nothing to chain onto.
const noPrimary = "(none)"

// installer owns the plugin binary and our conflist on one node. Only the watch loop calls its
// methods; the readiness endpoint reads the readiness struct, which has its own lock.
type installer struct {
	cfg     *config
	log     *logrus.Logger
	entry   json.RawMessage
	binary  *binaryInstaller
	ready   *readiness
	gate    *agentGate // nil without --wait-for-agent
	fights  *fightDetector
	adopt   *adopter
	metrics *metrics
	now     func() time.Time
	// lastRound is when the loop last finished a round (Unix nanoseconds), for the liveness check.
	lastRound atomic.Int64

	gateOpen     bool
	owned        bool      // the conflist on disk is the one we wrote
	written      []byte    // what we wrote (or found already right) last
	base         []byte    // what we wanted then, without other installers' entries
	source       string    // the primary (or custom file) our conflist was made from; "" before the first round
	pendingSince time.Time // when a vanished or switched primary was first seen; zero when none is pending
	backoffUntil time.Time // leave the conflist alone until then (another writer is fighting us)
	lastStatus   string    // the last state we logged, so a resync does not repeat it
	lastStatusAt time.Time // when it was logged
	multusWarned bool      // the thick-Multus warning was logged
}

func newInstaller(cfg *config, log *logrus.Logger) (*installer, error) {
	entry, err := pluginEntry(cfg.plugin)
	if err != nil {
		return nil, err
	}
	if err := checkEntry(entry); err != nil {
		return nil, fmt.Errorf("the --plugin-* options: %w", err)
	}
	if err := checkOwnership(cfg); err != nil {
		return nil, err
	}
	in := &installer{
		cfg:     cfg,
		log:     log,
		entry:   entry,
		binary:  newBinaryInstaller(cfg.binarySource, cfg.binaryPath(), log),
		ready:   newReadiness(cfg.readyFile, log),
		fights:  newFightDetector(cfg.fightThreshold, cfg.fightWindow),
		adopt:   newAdopter(cfg, log),
		metrics: newMetrics(Version, time.Now),
		now:     time.Now,
	}
	in.ready.gauge = in.metrics.ready
	repair, err := repairFromConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	in.setRepair(repair)
	in.ready.details = in.adopt.details
	in.adopt.gauges = in.metrics
	if cfg.waitForAgent {
		in.gate = newAgentGate(cfg.agentSocket)
	} else {
		in.gateOpen = true
	}
	return in, nil
}

// desired is what our conflist should be.
type desired struct {
	content []byte // nil: nothing (new) to write
	remove  bool   // with content nil: no config besides ours is left at all, so ours goes too
	source  string
	network string
	problem string // why content is nil, or why the runtime will not use it as we mean: not ready
}

// desired fails closed: a primary that exists but cannot be chained keeps our last good file (the
// runtime would otherwise fall back to the primary alone, and new pods would start without policy).
// Only a conf dir with no config but ours removes it.
func (in *installer) desired() desired {
	valid, skipped, err := scanConfDir(in.cfg.confDir)
	if err != nil {
		return desired{problem: err.Error()}
	}
	for _, s := range skipped {
		if filepath.Base(s.path) != in.cfg.confName {
			in.log.WithField("path", s.path).WithError(s.reason).Debug("skipping invalid CNI config, as the runtime does")
		}
	}
	d := in.desiredContent(valid, skipped)
	if d.content == nil {
		d.remove = d.source == noPrimary && !hasOtherConfig(valid, skipped, in.cfg.confName)
		return d
	}
	if d.problem == "" {
		d.problem = in.runtimeProblem(valid, skipped, d.content)
	}
	return d
}

// desiredContent derives (or, in custom mode, reads and checks) the conflist to write.
func (in *installer) desiredContent(valid []confFile, skipped []skippedFile) desired {
	p, found := in.cfg.cniRuntime().primary(valid, in.cfg.confName, in.cfg.primaryNetwork)
	if in.cfg.mode == modeCustom {
		path := in.cfg.customConflist
		data, err := os.ReadFile(path)
		if err != nil {
			return desired{source: path, problem: fmt.Sprintf("custom conflist: %v", err)}
		}
		primaryName := ""
		if found {
			primaryName = p.network
		}
		out, err := customConflist(data, primaryName, in.cfg.customRename)
		if err == nil {
			err = checkWithPlugin(out)
		}
		if err != nil {
			return desired{source: path, problem: fmt.Sprintf("custom conflist %s is invalid: %v", path, err)}
		}
		return desired{content: out, source: path}
	}
	if !found {
		problem := "waiting for a primary CNI config in " + in.cfg.confDir
		if in.cfg.primaryNetwork != "" {
			problem += fmt.Sprintf(" with network name %q", in.cfg.primaryNetwork)
		}
		for _, s := range skipped {
			if filepath.Base(s.path) != in.cfg.confName {
				problem = fmt.Sprintf("%s; %s is invalid: %v", problem, s.path, s.reason)
				break
			}
		}
		if bak, _ := filepath.Glob(filepath.Join(in.cfg.confDir, "*.cilium_bak")); len(bak) > 0 {
			problem = fmt.Sprintf("%s; found %v, renamed away by Cilium's cni.exclusive: set cni.exclusive=false and rename them back", problem, bak)
		}
		return desired{source: noPrimary, problem: problem}
	}
	out, err := deriveConflist(p.data, p.lift, in.entry)
	if err == nil {
		err = checkWithPlugin(out)
	}
	if err != nil {
		return desired{source: p.path, problem: fmt.Sprintf("cannot chain onto %s: %v", p.path, err)}
	}
	return desired{content: out, source: p.path, network: p.network}
}

// reconcile brings the binary and our conflist to the desired state. It returns how soon to run
// again when something is pending (0: only on the next event or resync).
func (in *installer) reconcile(ctx context.Context) time.Duration {
	now := in.now()
	// The binary first: a conflist must never name a plugin that is not there yet.
	copied, err := in.binary.ensure()
	if copied || err != nil {
		in.metrics.binaryInstalls.WithLabelValues(result(err)).Inc()
	}
	if err != nil {
		in.status(logrus.ErrorLevel, "cannot install the plugin binary", err)
		in.ready.setNotReady("plugin binary: " + err.Error())
		return retryInterval
	}
	path := in.cfg.confPath()
	cur, exists, err := readIfExists(path)
	if err != nil {
		in.status(logrus.ErrorLevel, "cannot read our conflist", err)
		in.ready.setNotReady(err.Error())
		return retryInterval
	}
	in.detectFight(cur, exists, now)
	if now.Before(in.backoffUntil) {
		in.ready.setNotReady("another process keeps rewriting " + path)
		return in.backoffUntil.Sub(now)
	}

	d := in.desired()
	if wait := in.settle(d.source, exists, now); wait > 0 {
		return wait
	}
	if d.content == nil {
		if !d.remove {
			// Fail closed: whatever we wrote last stays.
			in.status(logrus.WarnLevel, d.problem+"; keeping our last conflist", nil)
			in.ready.setNotReady(d.problem)
			return 0
		}
		in.status(logrus.WarnLevel, d.problem, nil)
		if exists && (in.owned || holdsOurEntry(cur)) {
			err := removeFile(path)
			in.metrics.removals.WithLabelValues(result(err)).Inc()
			if err != nil {
				in.status(logrus.ErrorLevel, "cannot remove our conflist", err)
				return retryInterval
			}
			in.log.WithField("path", path).Info("removed our conflist: no CNI config besides ours is left")
		}
		in.owned, in.written, in.source = false, nil, d.source
		in.ready.setNotReady(d.problem)
		return 0
	}

	// Entries other installers added to our file stay (coexist.go).
	want := d.content
	if exists && holdsOurEntry(cur) {
		if acceptable(d.content, cur) {
			want = cur
		} else {
			want = withForeign(d.content, cur)
		}
	}
	if !bytes.Equal(cur, want) {
		if !in.gateOpen {
			if err := in.gate.check(ctx); err != nil {
				in.status(logrus.InfoLevel, "waiting for the Cilium agent before writing the conflist", err)
				in.ready.setNotReady("waiting for the Cilium agent: " + err.Error())
				return in.cfg.agentInterval
			}
			in.gateOpen = true
			in.log.WithField("socket", in.cfg.agentSocket).Info("the Cilium agent is healthy")
		}
		err := writeFileAtomic(path, want, 0o644)
		in.metrics.conflistWrites.WithLabelValues(result(err)).Inc()
		if err != nil {
			in.status(logrus.ErrorLevel, "cannot write our conflist", err)
			in.ready.setNotReady(err.Error())
			return retryInterval
		}
		in.log.WithFields(logrus.Fields{"path": path, "from": d.source, "network": d.network}).Info("wrote conflist")
	} else if in.owned && !bytes.Equal(cur, in.written) {
		in.log.WithField("path", path).Info("another installer added its plugin entries to our conflist; keeping them")
		in.metrics.foreign.WithLabelValues("kept").Inc()
	}
	in.metrics.matched()
	in.owned, in.written, in.base, in.source = true, want, d.content, d.source
	if d.problem != "" {
		in.status(logrus.WarnLevel, d.problem, nil)
		in.ready.setNotReady(d.problem)
		return 0
	}
	in.status(logrus.DebugLevel, "conflist is up to date", nil)
	in.ready.setReady(path, d.content, in.binary.dst, in.binary.verified)
	// Our conflist is the runtime's: what ran before it can be adopted (the pass checks the agent itself).
	in.adopt.trigger(ctx, d.content)
	return 0
}

// settle delays following a primary that vanished or moved to another file until that has held for
// --settle: tools such as Flannel's installer rewrite their file in place with cp, and for a moment it
// is empty. A new or rewritten primary is followed at once.
func (in *installer) settle(source string, ourFileExists bool, now time.Time) time.Duration {
	switching := in.source != "" && in.source != noPrimary && source != in.source
	removing := source == noPrimary && ourFileExists
	if !(switching || removing) || in.cfg.settle == 0 {
		in.pendingSince = time.Time{}
		return 0
	}
	if in.pendingSince.IsZero() {
		in.pendingSince = now
	}
	if waited := now.Sub(in.pendingSince); waited < in.cfg.settle {
		return in.cfg.settle - waited
	}
	in.pendingSince = time.Time{}
	return 0
}

// detectFight notices that our conflist was changed or removed by someone else.
func (in *installer) detectFight(cur []byte, exists bool, now time.Time) {
	if !in.owned || (exists && (bytes.Equal(cur, in.written) || acceptable(in.base, cur))) {
		return // unchanged, or only another installer's entries added: not a fight
	}
	in.owned = false
	change := "rewrote"
	if !exists {
		change = "removed"
	}
	path := in.cfg.confPath()
	in.metrics.foreign.WithLabelValues("restored").Inc()
	if in.fights.record(now) {
		in.metrics.backoffs.Inc()
		in.backoffUntil = now.Add(in.cfg.fightBackoff)
		in.log.WithField("path", path).Warnf("another process keeps changing our conflist (%d time(s) within %s); "+
			"leaving it alone for %s instead of fighting. Look for a second cilium-chain installer, or Cilium's agent "+
			"managing the CNI config itself (cni.exclusive, write-cni-conf-when-ready), on this node",
			in.cfg.fightThreshold, in.cfg.fightWindow, in.cfg.fightBackoff)
		return
	}
	in.log.WithField("path", path).Warnf("another process %s our conflist; restoring it", change)
}

// statusRepeat is how often an unchanged state is logged again, so a node that stays unready keeps
// saying why in recent logs.
const statusRepeat = 5 * time.Minute

// status logs a state once, then again every statusRepeat while it holds, not on every resync.
func (in *installer) status(level logrus.Level, msg string, err error) {
	key := msg
	if err != nil {
		key += ": " + err.Error()
	}
	now := in.now()
	if key == in.lastStatus && now.Sub(in.lastStatusAt) < statusRepeat {
		return
	}
	in.lastStatus, in.lastStatusAt = key, now
	e := in.log.WithFields(logrus.Fields{})
	if err != nil {
		e = e.WithError(err)
	}
	e.Log(level, msg)
}
