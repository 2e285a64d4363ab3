package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openLogFile opens path for appending (0600), first rotating it when it has reached maxMB:
// path → path.1 → … → path.<backups>, the oldest dropped. Plugin processes run concurrently, so the
// rotation is done under an exclusive flock on path.lock and re-checked there; a process still
// writing to the old file finishes its few lines in path.1. maxMB 0 turns rotation off.
func openLogFile(path string, maxMB, backups int) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if limit := int64(maxMB) << 20; limit > 0 && fileSize(path) >= limit {
		if err := rotateLocked(path, limit, backups); err != nil {
			return nil, fmt.Errorf("rotating %s: %w", path, err)
		}
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

func rotateLocked(path string, limit int64, backups int) error {
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	if fileSize(path) < limit { // another process rotated it meanwhile
		return nil
	}
	if backups == 0 {
		return os.Truncate(path, 0)
	}
	for i := backups - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
	}
	return os.Rename(path, path+".1")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
