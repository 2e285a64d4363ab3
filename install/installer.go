package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	cfg    *config
	log    *logrus.Logger
	entry  json.RawMessage
	binary *binaryInstaller
	ready  *readiness
	gate   *agentGate // nil without --wait-for-agent
	fights *fightDetector
	adopt  *adopter
	now    func() time.Time

	gateOpen     bool
	owned        bool      // the conflist on disk is the one we wrote
	written      []byte    // what we wrote (or found already right) last
	source       string    // the primary (or custom file) our conflist was made from; "" before the first round
	pendingSince time.Time // when a vanished or switched primary was first seen; zero when none is pending
	backoffUntil time.Time // leave the conflist alone until then (another writer is fighting us)
	lastStatus   string    // the last state we logged, so a resync does not repeat it
}

func newInstaller(cfg *config, log *logrus.Logger) (*installer, error) {
	entry, err := pluginEntry(cfg.plugin)
	if err != nil {
		return nil, err
	}
	if err := checkEntry(entry); err != nil {
		return nil, fmt.Errorf("the --plugin-* options: %w", err)
	}
	in := &installer{
		cfg:    cfg,
		log:    log,
		entry:  entry,
		binary: newBinaryInstaller(cfg.binarySource, cfg.binaryPath(), log),
		ready:  newReadiness(cfg.readyFile, log),
		fights: newFightDetector(cfg.fightThreshold, cfg.fightWindow),
		adopt:  newAdopter(cfg, log),
		now:    time.Now,
	}
	in.ready.details = in.adopt.details
	if cfg.waitForAgent {
		in.gate = newAgentGate(cfg.agentSocket)
	} else {
		in.gateOpen = true
	}
	return in, nil
}

// desired is what our conflist should be.
type desired struct {
	content    []byte // nil: there should be no conflist of ours
	keep       bool   // leave whatever is there alone (a custom conflist we cannot use yet)
	source     string
	network    string
	problem    string // why content is nil
	shadowedBy string // a valid config that sorts before ours, so the runtime would not use ours
}

func (in *installer) desired() desired {
	valid, skipped, err := scanConfDir(in.cfg.confDir)
	if err != nil {
		return desired{keep: true, problem: err.Error()}
	}
	for _, s := range skipped {
		if filepath.Base(s.path) != in.cfg.confName {
			in.log.WithField("path", s.path).WithError(s.reason).Debug("skipping invalid CNI config, as the runtime does")
		}
	}
	shadow := ""
	for _, cf := range valid {
		if base := filepath.Base(cf.path); base != in.cfg.confName && base < in.cfg.confName {
			shadow = cf.path
			break
		}
	}
	if in.cfg.mode == modeCustom {
		path := in.cfg.customConflist
		data, err := os.ReadFile(path)
		if err != nil {
			return desired{keep: true, source: path, problem: fmt.Sprintf("custom conflist: %v", err)}
		}
		if err := validateCustom(data); err != nil {
			return desired{keep: true, source: path, problem: fmt.Sprintf("custom conflist %s is invalid: %v", path, err)}
		}
		if err := checkWithPlugin(data); err != nil {
			return desired{keep: true, source: path, problem: fmt.Sprintf("custom conflist %s is invalid: %v", path, err)}
		}
		return desired{content: data, source: path, shadowedBy: shadow}
	}
	p, ok := pickPrimary(valid, in.cfg.confName, in.cfg.primaryNetwork)
	if !ok {
		problem := "waiting for a primary CNI config in " + in.cfg.confDir
		if in.cfg.primaryNetwork != "" {
			problem += fmt.Sprintf(" with network name %q", in.cfg.primaryNetwork)
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
	return desired{content: out, source: p.path, network: p.network, shadowedBy: shadow}
}

// reconcile brings the binary and our conflist to the desired state. It returns how soon to run
// again when something is pending (0: only on the next event or resync).
func (in *installer) reconcile(ctx context.Context) time.Duration {
	now := in.now()
	// The binary first: a conflist must never name a plugin that is not there yet.
	if _, err := in.binary.ensure(); err != nil {
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
	switch {
	case d.keep:
		in.status(logrus.WarnLevel, d.problem, nil)
		in.ready.setNotReady(d.problem)
		return 0
	case d.content == nil:
		in.status(logrus.WarnLevel, d.problem, nil)
		if exists && (in.owned || holdsOurEntry(cur)) {
			if err := removeFile(path); err != nil {
				in.status(logrus.ErrorLevel, "cannot remove our conflist", err)
				return retryInterval
			}
			in.log.WithField("path", path).Info("removed our conflist: there is nothing to chain onto")
		}
		in.owned, in.written, in.source = false, nil, d.source
		in.ready.setNotReady(d.problem)
		return 0
	}

	if !bytes.Equal(cur, d.content) {
		if !in.gateOpen {
			if err := in.gate.check(ctx); err != nil {
				in.status(logrus.InfoLevel, "waiting for the Cilium agent before writing the conflist", err)
				in.ready.setNotReady("waiting for the Cilium agent: " + err.Error())
				return in.cfg.agentInterval
			}
			in.gateOpen = true
			in.log.WithField("socket", in.cfg.agentSocket).Info("the Cilium agent is healthy")
		}
		if err := writeFileAtomic(path, d.content, 0o644); err != nil {
			in.status(logrus.ErrorLevel, "cannot write our conflist", err)
			in.ready.setNotReady(err.Error())
			return retryInterval
		}
		in.log.WithFields(logrus.Fields{"path": path, "from": d.source, "network": d.network}).Info("wrote conflist")
	}
	in.owned, in.written, in.source = true, d.content, d.source
	if d.shadowedBy != "" {
		problem := fmt.Sprintf("%s sorts before %s, so the runtime uses it instead of ours: pick a --conf-name that sorts first",
			d.shadowedBy, in.cfg.confName)
		in.status(logrus.WarnLevel, problem, nil)
		in.ready.setNotReady(problem)
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
	if !in.owned || (exists && bytes.Equal(cur, in.written)) {
		return
	}
	in.owned = false
	change := "rewrote"
	if !exists {
		change = "removed"
	}
	path := in.cfg.confPath()
	if in.fights.record(now) {
		in.backoffUntil = now.Add(in.cfg.fightBackoff)
		in.log.WithField("path", path).Warnf("another process keeps changing our conflist (%d time(s) within %s); "+
			"leaving it alone for %s instead of fighting. Look for a second cilium-chain installer, or Cilium's agent "+
			"managing the CNI config itself (cni.exclusive, write-cni-conf-when-ready), on this node",
			in.cfg.fightThreshold, in.cfg.fightWindow, in.cfg.fightBackoff)
		return
	}
	in.log.WithField("path", path).Warnf("another process %s our conflist; restoring it", change)
}

// status logs a state once, not on every resync that finds it unchanged.
func (in *installer) status(level logrus.Level, msg string, err error) {
	key := msg
	if err != nil {
		key += ": " + err.Error()
	}
	if key == in.lastStatus {
		return
	}
	in.lastStatus = key
	e := in.log.WithFields(logrus.Fields{})
	if err != nil {
		e = e.WithError(err)
	}
	e.Log(level, msg)
}
