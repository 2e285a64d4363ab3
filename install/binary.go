package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sirupsen/logrus"
)

// binaryInstaller keeps the plugin binary in the host's bin dir identical to the one in the image.
type binaryInstaller struct {
	src, dst string
	log      *logrus.Logger

	srcHash []byte
	// verified is the dst's stat after we last installed or checked it: while it holds, dst is
	// still ours and a resync need not hash it again.
	verified *fileStamp
}

type fileStamp struct {
	size    int64
	modTime int64
	mode    fs.FileMode
}

func stampOf(fi fs.FileInfo) *fileStamp {
	return &fileStamp{size: fi.Size(), modTime: fi.ModTime().UnixNano(), mode: fi.Mode()}
}

// stampMatches is the cheap check that path is still the file we stamped.
func stampMatches(path string, want *fileStamp) bool {
	if want == nil {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && *stampOf(fi) == *want
}

func newBinaryInstaller(src, dst string, log *logrus.Logger) *binaryInstaller {
	return &binaryInstaller{src: src, dst: dst, log: log}
}

// ensure installs the binary unless an identical one is already there; it reports whether it copied.
func (b *binaryInstaller) ensure() (bool, error) {
	if b.srcHash == nil {
		h, err := hashFile(b.src)
		if err != nil {
			return false, fmt.Errorf("plugin binary in the image: %w", err)
		}
		b.srcHash = h
	}
	fi, err := os.Stat(b.dst)
	switch {
	case err == nil && b.verified != nil && *stampOf(fi) == *b.verified:
		return false, nil
	case err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0:
		if h, err := hashFile(b.dst); err == nil && bytes.Equal(h, b.srcHash) {
			b.verified = stampOf(fi)
			b.log.WithField("path", b.dst).Debug("plugin binary already installed and identical")
			return false, nil
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("stat %s: %w", b.dst, err)
	}
	if err := b.copy(); err != nil {
		return false, err
	}
	fi, err = os.Stat(b.dst)
	if err != nil {
		return false, fmt.Errorf("stat %s after install: %w", b.dst, err)
	}
	b.verified = stampOf(fi)
	b.log.WithFields(logrus.Fields{"path": b.dst, "sha256": fmt.Sprintf("%x", b.srcHash)}).Info("installed plugin binary")
	return true, nil
}

// copy writes the binary through a temp file and a rename: a running old binary keeps its inode (no
// ETXTBSY) and the runtime never executes a half-written file.
func (b *binaryInstaller) copy() error {
	in, err := os.Open(b.src)
	if err != nil {
		return fmt.Errorf("open plugin binary: %w", err)
	}
	defer in.Close()
	h := sha256.New()
	err = writeAtomic(b.dst, 0o755, func(w io.Writer) error {
		_, err := io.Copy(io.MultiWriter(w, h), in)
		return err
	})
	if err != nil {
		return fmt.Errorf("install plugin binary: %w", err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, b.srcHash) {
		// The image is immutable, so this means the source changed under us: try again next round.
		b.srcHash = nil
		return fmt.Errorf("plugin binary %s changed while it was copied", b.src)
	}
	return nil
}

// isOurs reports whether the installed binary is still the one we ship (for --uninstall-binary).
func (b *binaryInstaller) isOurs() bool {
	if b.srcHash == nil {
		return false
	}
	h, err := hashFile(b.dst)
	return err == nil && bytes.Equal(h, b.srcHash)
}

func hashFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}
