package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix names our temp files ".<name>.tmp-<random>": the extension is never .conf/.conflist/.json,
// so a runtime scanning the dir never reads a half-written file, and the leading dot hides it.
func tempPrefix(name string) string { return "." + name + ".tmp-" }

// writeFileAtomic replaces path with data: a temp file in the same directory, fsync, chmod, rename,
// fsync of the directory. A reader sees the old file or the new one, never a mix, even if we are killed.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic is writeFileAtomic for content produced by fill. Replacing by rename also means an
// executable that is running keeps its old inode: no "text file busy".
func writeAtomic(path string, perm fs.FileMode, fill func(io.Writer) error) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, tempPrefix(name)+"*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, tempErr(err, tmp))
	}
	// CreateTemp makes 0600; fchmod sets the final mode regardless of the umask.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", path, tempErr(err, tmp))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, tempErr(err, tmp))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, tempErr(err, tmp))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return syncDir(dir)
}

// tempErr drops the temp file's name from an error about it (errors.Is still sees the errno): the
// errors name the file being replaced instead, and a random name would make a repeated failure (a
// full disk, retried every second) a new message each time, logged again and again.
func tempErr(err error, tmp *os.File) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == tmp.Name() {
		return pe.Err
	}
	return err
}

// removeFile deletes path (a missing file is fine) and makes the removal durable.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename or removal in dir survive a crash of the node.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps deletes temp files a killed predecessor left for name in dir; it returns how many.
func removeStaleTemps(dir, name string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("list %s: %w", dir, err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix(name)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("remove stale temp file: %w", err)
		}
		n++
	}
	return n, nil
}

// readIfExists returns the file's content, or ok=false when there is no such file.
func readIfExists(path string) (data []byte, ok bool, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return data, true, nil
}
