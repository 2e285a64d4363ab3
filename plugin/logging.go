package main

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"

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

// eventID only correlates log lines: math/rand's runtime-seeded generator is enough, and cheaper than
// crypto/rand's first use in a short-lived process.
func eventID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:6])
}
