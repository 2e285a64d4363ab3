package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/sirupsen/logrus"

	"github.com/cilium-chain/cilium-chain/chain"
)

// newLogger logs to conf's log file (0600, append) with one event ID per call, falling back to stderr.
// Logging never fails a call. The returned closer flushes the file.
func newLogger(conf *chain.Config, command string, args *skel.CmdArgs, stderr io.Writer) (*logrus.Entry, func()) {
	log := logrus.New()
	log.SetOutput(stderr)
	closer := func() {}
	if conf != nil {
		if lvl, err := logrus.ParseLevel(conf.LogLevel); err == nil {
			log.SetLevel(lvl)
		}
		if conf.LogFormat == "json" {
			log.SetFormatter(&logrus.JSONFormatter{})
		}
		if f, err := openLogFile(conf.LogFile, conf.LogMaxSize, conf.LogMaxBackups); err == nil && f != nil {
			log.SetOutput(f)
			closer = func() { f.Close() }
		} else if err != nil {
			log.WithError(err).Warn("cannot open log-file; logging to stderr")
		}
	}
	fields := logrus.Fields{"event": eventID(), "cmd": command}
	if args != nil {
		fields["containerID"], fields["netns"], fields["ifname"] = args.ContainerID, args.Netns, args.IfName
	}
	if conf != nil {
		fields["network"] = conf.Name
	}
	return log.WithFields(fields), closer
}

func eventID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
