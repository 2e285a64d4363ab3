package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// run installs, then keeps the node right until ctx ends (SIGTERM), then cleans up.
func (in *installer) run(ctx context.Context) error {
	for _, dir := range []string{in.cfg.confDir, in.cfg.binDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// A predecessor killed mid-write leaves temp files; they are invisible to the runtime, but litter.
	for dir, name := range map[string]string{in.cfg.confDir: in.cfg.confName, in.cfg.binDir: in.cfg.binaryName} {
		if n, err := removeStaleTemps(dir, name); err != nil {
			in.log.WithError(err).Warn("cannot remove stale temp files")
		} else if n > 0 {
			in.log.WithField("dir", dir).Infof("removed %d stale temp file(s) of a previous run", n)
		}
	}
	in.ready.version = shippedPluginVersion(in.cfg.binarySource)
	in.lastRound.Store(in.now().UnixNano())
	if in.cfg.readyAddr != "" {
		ln, err := in.ready.listen(in.cfg.readyAddr)
		if err != nil {
			return err
		}
		go in.ready.serve(ctx, ln, in.probeHandler())
	}

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("start watching: %w", err)
	}
	defer w.Close()
	watched := []string{in.cfg.confDir, in.cfg.binDir}
	if in.cfg.mode == modeCustom {
		// A ConfigMap volume swaps a ..data symlink in this dir when the ConfigMap changes.
		watched = append(watched, filepath.Dir(in.cfg.customConflist))
	}
	for _, dir := range watched {
		if err := w.Add(dir); err != nil {
			// The resync still catches changes, only later.
			in.log.WithError(err).WithField("dir", dir).Warn("cannot watch directory; relying on the periodic resync")
		}
	}
	in.log.WithFields(map[string]any{
		"version": Version, "plugin": in.ready.version, "mode": in.cfg.mode, "runtime": in.cfg.runtime,
		"conflist": in.cfg.confPath(), "binary": in.cfg.binaryPath(),
	}).Info("cilium-chain installer started")

	debounce := newStoppedTimer()
	retry := newStoppedTimer()
	resync := time.NewTicker(in.cfg.resync)
	defer resync.Stop()

	round := func() {
		if ctx.Err() != nil {
			return // stopping: let the loop reach shutdown instead of starting another round
		}
		if wait := in.reconcile(ctx); wait > 0 {
			retry.Reset(wait)
		}
		in.lastRound.Store(in.now().UnixNano())
	}
	round()
	for {
		select {
		case <-ctx.Done():
			in.shutdown()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("file watcher closed")
			}
			if in.relevant(ev) {
				// Coalesce a burst (write, chmod, rename...) into one round.
				debounce.Reset(in.cfg.debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("file watcher closed")
			}
			// Usually an event queue overflow: events were lost, so look at everything.
			in.log.WithError(err).Warn("file watcher error; re-checking everything")
			debounce.Reset(in.cfg.debounce)
		case <-debounce.C:
			round()
		case <-retry.C:
			round()
		case <-resync.C:
			round()
		}
	}
}

// relevant filters watcher events to those that can change what we write.
func (in *installer) relevant(ev fsnotify.Event) bool {
	dir, name := filepath.Split(ev.Name)
	dir = filepath.Clean(dir)
	switch {
	case dir == filepath.Clean(in.cfg.confDir):
		return slices.Contains(confExtensions, filepath.Ext(name))
	case dir == filepath.Clean(in.cfg.binDir):
		return name == in.cfg.binaryName
	default:
		return in.cfg.mode == modeCustom // the custom conflist's dir
	}
}

func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
