// Command cilium-chain-install installs the cilium-chain CNI plugin on a node: it copies the binary
// into the host's CNI bin dir, writes a conflist that chains it after the node's primary network,
// and keeps that conflist right while it runs. It is the container of the cilium-chain DaemonSet
// (install/kubernetes/cilium-chain.yaml); see install/README.md and --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// runMain is main with its inputs passed in, so tests can run the real thing in-process or re-exec it.
func runMain(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "doctor":
			return runDoctor(args[1:], lookupEnv, stdout, stderr)
		case "uninstall":
			return runUninstall(args[1:], lookupEnv, stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, lookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cilium-chain-install: %v\nRun cilium-chain-install --help for the options.\n", err)
		return 2
	}
	log, err := newLogger(cfg.logLevel, cfg.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cilium-chain-install: %v\n", err)
		return 2
	}
	in, err := newInstaller(cfg, log)
	if err != nil {
		log.WithError(err).Error("invalid options")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := in.run(ctx); err != nil {
		log.WithError(err).Error("installer failed")
		return 1
	}
	return 0
}

func newLogger(level, format string, out io.Writer) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(out)
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	log.SetLevel(lvl)
	switch format {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
	return log, nil
}
