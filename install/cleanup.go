package main

import (
	"bytes"
	"os"
)

// shutdown runs on SIGTERM/SIGINT. By default our conflist goes, so a node without the installer falls
// back to its primary network; --keep-on-exit leaves it for an upgrade (the next pod takes it over).
// Only files that are still ours are removed.
func (in *installer) shutdown() {
	in.ready.setNotReady("shutting down")
	path := in.cfg.confPath()
	if in.cfg.keepOnExit {
		in.log.WithField("path", path).Info("keeping our conflist (--keep-on-exit)")
	} else if cur, exists, err := readIfExists(path); err != nil {
		in.log.WithError(err).Error("cannot read our conflist to remove it")
	} else if exists && ((in.owned && bytes.Equal(cur, in.written)) || holdsOurEntry(cur)) {
		err := removeFile(path)
		in.metrics.removals.WithLabelValues(result(err)).Inc()
		if err != nil {
			in.log.WithError(err).Error("cannot remove our conflist")
		} else {
			in.log.WithField("path", path).Info("removed our conflist")
		}
	} else if exists {
		in.log.WithField("path", path).Warn("leaving the conflist in place: it is not ours (it does not chain cilium-chain)")
	}

	if !in.cfg.uninstallBinary {
		return
	}
	bin := in.cfg.binaryPath()
	if _, err := os.Stat(bin); err != nil {
		return
	}
	if !in.binary.isOurs() {
		in.log.WithField("path", bin).Warn("leaving the plugin binary in place: it is not the one we installed")
		return
	}
	if err := removeFile(bin); err != nil {
		in.log.WithError(err).Error("cannot remove the plugin binary")
		return
	}
	in.log.WithField("path", bin).Info("removed the plugin binary (--uninstall-binary)")
}
