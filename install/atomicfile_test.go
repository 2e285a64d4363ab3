package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// TestAtomicRewritesNeverShowAPartialFile rewrites the conflist 10,000 times with contents of very
// different sizes while readers poll it the way a runtime does (read, parse with libcni): no read may
// ever see a missing, partial or invalid file, and no temp file may be picked up by libcni.ConfFiles.
func TestAtomicRewritesNeverShowAPartialFile(t *testing.T) {
	const rewrites = 10000
	dir := t.TempDir()
	// fsync on the VM's disk costs milliseconds; the rename semantics under test are the same on tmpfs.
	if fast, err := os.MkdirTemp("/dev/shm", "cilium-chain-atomic-"); err == nil {
		dir = fast
		t.Cleanup(func() { os.RemoveAll(fast) })
	}
	path := filepath.Join(dir, "05-cilium.conflist")
	small := []byte(`{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"},{"type":"cilium-chain"}]}` + "\n")
	// A big variant so a torn write would be visible as a truncated document.
	big := []byte(fmt.Sprintf(`{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel","pad":%q},{"type":"cilium-chain"}]}`+"\n",
		strings.Repeat("x", 64<<10)))
	if err := writeFileAtomic(path, small, 0o644); err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	var reads, bad, tempsSeen atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				data, err := os.ReadFile(path)
				if err == nil && !bytes.Equal(data, small) && !bytes.Equal(data, big) {
					err = fmt.Errorf("content is neither version (%d bytes)", len(data))
				}
				if err == nil {
					_, err = libcni.ConfListFromBytes(data)
				}
				if err != nil {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, err.Error())
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			files, _ := libcni.ConfFiles(dir, confExtensions)
			for _, f := range files {
				if filepath.Base(f) != "05-cilium.conflist" {
					tempsSeen.Add(1)
				}
			}
		}
	}()

	start := time.Now()
	for i := 0; i < rewrites; i++ {
		content := small
		if i%2 == 0 {
			content = big
		}
		if err := writeFileAtomic(path, content, 0o644); err != nil {
			done.Store(true)
			wg.Wait()
			t.Fatalf("rewrite %d: %v", i, err)
		}
	}
	done.Store(true)
	wg.Wait()
	t.Logf("%d rewrites in %s, %d concurrent reads", rewrites, time.Since(start).Round(time.Millisecond), reads.Load())
	if bad.Load() > 0 {
		t.Fatalf("%d of %d reads saw a bad file, first: %v", bad.Load(), reads.Load(), firstBad.Load())
	}
	if reads.Load() < 1000 {
		t.Fatalf("only %d reads during the rewrites: the test proves little", reads.Load())
	}
	if tempsSeen.Load() > 0 {
		t.Fatalf("libcni.ConfFiles listed a temp file %d times", tempsSeen.Load())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

// TestNonAtomicWriteIsSeenPartial is the control for the test above: the same readers against a plain
// os.WriteFile do see partial files, so the harness can catch the bug it guards against.
func TestNonAtomicWriteIsSeenPartial(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "cilium-chain-nonatomic-")
	if err != nil {
		dir = t.TempDir()
	} else {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	path := filepath.Join(dir, "05-cilium.conflist")
	big := []byte(fmt.Sprintf(`{"cniVersion":"0.3.1","name":"n","plugins":[{"type":"x","pad":%q}]}`, strings.Repeat("x", 256<<10)))
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	var done atomic.Bool
	var bad atomic.Int64
	go func() {
		for !done.Load() {
			if data, err := os.ReadFile(path); err != nil || !bytes.Equal(data, big) {
				bad.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for bad.Load() == 0 && time.Now().Before(deadline) {
		if err := os.WriteFile(path, big, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	if bad.Load() == 0 {
		t.Fatal("the reader never saw a partial plain write within 5 s: the harness cannot detect torn files")
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".05-cilium.conflist.tmp-1", ".05-cilium.conflist.tmp-22", "05-cilium.conflist", ".other.tmp-1", "10-flannel.conflist"} {
		writeFile(t, filepath.Join(dir, name), "x", 0o644)
	}
	n, err := removeStaleTemps(dir, "05-cilium.conflist")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
	for name, want := range map[string]bool{".05-cilium.conflist.tmp-1": false, ".05-cilium.conflist.tmp-22": false,
		"05-cilium.conflist": true, ".other.tmp-1": true, "10-flannel.conflist": true} {
		if got := exists(filepath.Join(dir, name)); got != want {
			t.Errorf("%s exists = %v, want %v", name, got, want)
		}
	}
}
