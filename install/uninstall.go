package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

const uninstallIntro = `cilium-chain-install uninstall removes cilium-chain from this node once its installer is gone.

It is what the Helm chart's post-delete hook runs on every node: it waits until nothing answers on
--ready-addr any more (the installer pod has stopped, so nothing rewrites our files), then removes
--conf-name if it still chains cilium-chain, and with --uninstall-binary the plugin binary if it is
still the one the image ships. Files that are not ours are left alone. Exit 0 when the node is clean.
`

// runUninstall is `cilium-chain-install uninstall`.
func runUninstall(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg := &config{}
	var wait time.Duration
	f := newFlags(cfg)
	f.section = "Uninstall"
	f.duration(&wait, "wait-installer", 2*time.Minute, "how long to wait for the installer on this node to stop")
	err := f.parse(args, lookupEnv, stdout, uninstallIntro)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "cilium-chain-install uninstall: %v\n", err)
		return 2
	}
	log, err := newLogger(cfg.logLevel, cfg.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cilium-chain-install uninstall: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := waitInstallerGone(ctx, cfg.readyAddr); err != nil {
		log.WithError(err).Error("the installer still runs on this node; removing its files now would only make it write them again")
		return 1
	}
	if err := uninstallNode(cfg, log); err != nil {
		log.WithError(err).Error("uninstall failed")
		return 1
	}
	return 0
}

// waitInstallerGone polls the installer's readiness address until it refuses connections twice in a
// row: the installer closes it when it stops, and stops writing before it exits.
func waitInstallerGone(ctx context.Context, addr string) error {
	if addr == "" {
		return nil
	}
	refusals := 0
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			refusals = 0
		} else if ctx.Err() == nil {
			refusals++
		}
		if refusals >= 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still answers: %w", addr, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// uninstallNode removes our conflist and, with --uninstall-binary, our binary; only while they are ours.
func uninstallNode(cfg *config, log *logrus.Logger) error {
	path := cfg.confPath()
	cur, exists, err := readIfExists(path)
	switch {
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	case !exists:
		log.WithField("path", path).Info("no conflist of ours")
	case !holdsOurEntry(cur):
		log.WithField("path", path).Warn("leaving the conflist in place: it does not chain cilium-chain")
	default:
		if err := removeFile(path); err != nil {
			return err
		}
		log.WithField("path", path).Info("removed our conflist")
	}
	if !cfg.uninstallBinary {
		return nil
	}
	bin := cfg.binaryPath()
	if _, err := os.Stat(bin); errors.Is(err, os.ErrNotExist) {
		log.WithField("path", bin).Info("no plugin binary")
		return nil
	}
	onNode, err := hashFile(bin)
	if err != nil {
		return err
	}
	shipped, err := hashFile(cfg.binarySource)
	if err != nil {
		return fmt.Errorf("plugin binary in the image: %w", err)
	}
	if !bytes.Equal(onNode, shipped) {
		log.WithField("path", bin).Warn("leaving the plugin binary in place: it is not the one this image ships")
		return nil
	}
	if err := removeFile(bin); err != nil {
		return err
	}
	log.WithField("path", bin).Info("removed the plugin binary")
	return nil
}
