package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b), 0o755)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestReplaceBinaryWhileItRuns installs a new plugin over one that is executing right now: a plain
// write would fail with ETXTBSY (or corrupt the running program); ours must succeed, leave the old
// process running, and the new file must run.
func TestReplaceBinaryWhileItRuns(t *testing.T) {
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "v1"), filepath.Join(dir, "v2")
	copyFile(t, "/bin/sleep", v1)
	copyFile(t, "/bin/true", v2)
	binDir := filepath.Join(dir, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(binDir, "cilium-chain")

	if copied, err := newBinaryInstaller(v1, dst, quietLogger()).ensure(); err != nil || !copied {
		t.Fatalf("first install: copied=%v err=%v", copied, err)
	}
	running := exec.Command(dst, "30")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = running.Process.Kill(); _ = running.Wait() })
	time.Sleep(50 * time.Millisecond) // let execve finish so the file is busy

	// The hazard is real on this kernel: writing into the running executable is refused.
	if f, err := os.OpenFile(dst, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Logf("note: this kernel allowed opening a running executable for writing (no ETXTBSY)")
	} else if !errors.Is(err, syscall.ETXTBSY) {
		t.Fatalf("opening the running binary for writing: %v, want ETXTBSY", err)
	}

	if copied, err := newBinaryInstaller(v2, dst, quietLogger()).ensure(); err != nil || !copied {
		t.Fatalf("install over the running binary: copied=%v err=%v", copied, err)
	}
	if err := running.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the old binary's process died: %v", err)
	}
	got, _ := os.ReadFile(dst)
	want, _ := os.ReadFile(v2)
	if !bytes.Equal(got, want) {
		t.Fatal("installed binary is not the new one")
	}
	if out, err := exec.Command(dst).CombinedOutput(); err != nil {
		t.Fatalf("the new binary does not run: %v %s", err, out)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(binDir, ".*")); len(left) > 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

// TestBinarySkippedWhenIdentical: an identical binary (from us or an earlier pod) is not rewritten;
// a changed or removed one is put back.
func TestBinarySkippedWhenIdentical(t *testing.T) {
	n := newTestNode(t)
	b := newBinaryInstaller(n.source, n.binary(), quietLogger())
	if copied, err := b.ensure(); err != nil || !copied {
		t.Fatalf("first: copied=%v err=%v", copied, err)
	}
	ino := inode(t, n.binary())
	tests := []struct {
		name       string
		installer  *binaryInstaller
		tamper     func()
		wantCopied bool
	}{
		{name: "same installer again", installer: b, wantCopied: false},
		{name: "a new installer (pod restart) finds it identical", installer: newBinaryInstaller(n.source, n.binary(), quietLogger()), wantCopied: false},
		{name: "changed on the host", installer: b, tamper: func() { writeFile(t, n.binary(), "#!/bin/sh\necho tampered\n", 0o755) }, wantCopied: true},
		{name: "removed on the host", installer: b, tamper: func() { os.Remove(n.binary()) }, wantCopied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tamper != nil {
				tt.tamper()
			}
			copied, err := tt.installer.ensure()
			if err != nil {
				t.Fatal(err)
			}
			if copied != tt.wantCopied {
				t.Errorf("copied = %v, want %v", copied, tt.wantCopied)
			}
			if !tt.wantCopied && inode(t, n.binary()) != ino {
				t.Errorf("the binary was replaced although identical")
			}
			if !tt.installer.isOurs() {
				t.Errorf("installed binary is not ours after ensure")
			}
			ino = inode(t, n.binary())
		})
	}
}

func TestBinaryMissingSourceFails(t *testing.T) {
	n := newTestNode(t)
	_, err := newBinaryInstaller(filepath.Join(n.root, "nope"), n.binary(), quietLogger()).ensure()
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error", err)
	}
	if exists(n.binary()) {
		t.Error("a binary was installed from nothing")
	}
}
