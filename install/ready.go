package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// readiness is true only while the plugin binary and our conflist are in place. The loop sets what
// should be there; every probe checks the disk again, so a file removed behind our back reads as
// not ready even before the loop notices.
type readiness struct {
	log     *logrus.Logger
	file    string        // optional marker file, present while ready
	details func() string // optional lines after the verdict (the adoption report); set before serving

	mu       sync.Mutex
	reason   string // why we are not ready; empty when ready
	confPath string
	conf     []byte
	binPath  string
	bin      *fileStamp
}

func newReadiness(file string, log *logrus.Logger) *readiness {
	return &readiness{file: file, log: log, reason: "starting"}
}

// setReady records what must be on disk for us to be ready.
func (r *readiness) setReady(confPath string, conf []byte, binPath string, bin *fileStamp) {
	r.mu.Lock()
	changed := r.reason != ""
	r.reason, r.confPath, r.conf, r.binPath, r.bin = "", confPath, conf, binPath, bin
	r.mu.Unlock()
	if changed {
		r.log.Info("ready: plugin binary and conflist are in place")
		r.syncFile(true)
	}
}

// setNotReady records why we are not ready.
func (r *readiness) setNotReady(reason string) {
	r.mu.Lock()
	changed := r.reason == ""
	r.reason, r.conf, r.bin = reason, nil, nil
	r.mu.Unlock()
	if changed {
		r.log.WithField("reason", reason).Info("not ready")
		r.syncFile(false)
	}
}

// check returns nil when ready, or why not.
func (r *readiness) check() error {
	r.mu.Lock()
	reason, confPath, conf, binPath, bin := r.reason, r.confPath, r.conf, r.binPath, r.bin
	r.mu.Unlock()
	if reason != "" {
		return errors.New(reason)
	}
	if !stampMatches(binPath, bin) {
		return fmt.Errorf("plugin binary %s is missing or changed", binPath)
	}
	data, err := os.ReadFile(confPath)
	if err != nil {
		return fmt.Errorf("conflist: %w", err)
	}
	if !bytes.Equal(data, conf) {
		return fmt.Errorf("conflist %s changed behind our back", confPath)
	}
	return nil
}

func (r *readiness) syncFile(ready bool) {
	if r.file == "" {
		return
	}
	var err error
	if ready {
		err = writeFileAtomic(r.file, []byte("ready\n"), 0o644)
	} else {
		err = removeFile(r.file)
	}
	if err != nil {
		r.log.WithError(err).Warn("cannot update the readiness file")
	}
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/readyz" {
		http.NotFound(w, req)
		return
	}
	details := ""
	if r.details != nil {
		details = r.details()
	}
	if err := r.check(); err != nil {
		http.Error(w, "not ready: "+err.Error()+"\n"+details, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprint(w, "ok\n"+details)
}

// listen binds the probe address now, so a taken port fails the start instead of a probe later.
func (r *readiness) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("readiness endpoint: %w", err)
	}
	return ln, nil
}

// serve answers /readyz on ln until ctx ends.
func (r *readiness) serve(ctx context.Context, ln net.Listener) {
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		r.log.WithError(err).Error("readiness endpoint stopped")
	}
}
