package chain

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The agent's own deletion queue, as in Cilium v1.20.2 (plugins/cilium-cni/lib/deletion_queue.go,
// pkg/endpoint/api/endpoint_deletion_queue.go): one "<sha256 of content>.delete" file per request, whose
// content is the endpoint ID. CNI plugins hold a shared OFD lock on "lockfile" while they write; the
// agent holds it exclusively from start until it has drained the queue and its API is up.
const (
	queueLockName = "lockfile"
	queueSuffix   = ".delete"
	// maxQueueEntries bounds the queue against a runaway runtime. Upstream refuses past 256, which leaves
	// pods stuck Terminating during a long agent outage on a busy node; entries are ~60 bytes and the
	// agent drains thousands in well under a second, so the bound is much higher here.
	maxQueueEntries = 8192
)

type deletionQueue struct {
	dir string
}

// lockShared takes the shared lock, polling until ctx ends (an OFD lock wait cannot be cancelled).
func (q deletionQueue) lockShared(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(q.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating deletion queue dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(q.dir, queueLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening deletion queue lock: %w", err)
	}
	lock := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0, Start: 0, Len: 0}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lock)
		if err == nil {
			return func() { f.Close() }, nil // closing the last fd drops an OFD lock
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("deletion queue lock %s held by the agent: %w", f.Name(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// enqueueLocked writes one entry atomically (temp file + rename: the agent only reads *.delete).
// The caller holds the shared lock. The same endpoint queued twice is one file.
func (q deletionQueue) enqueueLocked(endpointID string) (string, error) {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return "", fmt.Errorf("listing deletion queue: %w", err)
	}
	queued := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), queueSuffix) {
			queued++
		}
	}
	removeStaleTemps(q.dir, entries)
	if queued > maxQueueEntries {
		return "", fmt.Errorf("deletion queue %s holds %d entries, more than %d", q.dir, queued, maxQueueEntries)
	}
	path := filepath.Join(q.dir, fmt.Sprintf("%x%s", sha256.Sum256([]byte(endpointID)), queueSuffix))
	if err := writeFileAtomic(path, []byte(endpointID), 0o644); err != nil {
		return "", fmt.Errorf("writing deletion queue entry: %w", err)
	}
	return path, nil
}

// tempPrefix marks writeFileReplace's temp files; the agent reads only *.delete, GC only records.
const tempPrefix = ".tmp-"

// staleTempAge: a temp file this old belongs to a writer that was killed (kill -9, OOM) between
// create and rename; a live writer renames within milliseconds.
const staleTempAge = time.Minute

// removeStaleTemps deletes temp files of killed writers among entries of dir. Best effort.
func removeStaleTemps(dir string, entries []os.DirEntry) {
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// writeFileAtomic writes data to a hidden temp file beside path, syncs it and renames it into place.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFileReplace(path, data, mode, true)
}

// writeFileReplace is writeFileAtomic with the fsync optional: without it a crash may lose the new
// content (the old file stays), but a reader never sees a partial file. An fsync costs 0.5 ms on an
// idle disk and several under load, per call.
func writeFileReplace(path string, data []byte, mode os.FileMode, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	err = tmp.Chmod(mode)
	if _, werr := tmp.Write(data); err == nil {
		err = werr
	}
	if sync && err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
