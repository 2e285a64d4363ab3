package main

// Fault injection for the installer (issue 6): SIGKILL at random points, a full disk, a burst of
// primary rewrites. Each test checks what the runtime and the kubelet would see afterwards.

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"golang.org/x/sys/unix"
)

// faultSeedEnv replays a run of the randomized tests: they log the seed they used.
const faultSeedEnv = "CILIUM_CHAIN_FAULT_SEED"

func faultRand(t *testing.T) *mrand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(faultSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", faultSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("random seed %d (replay with %s=%d)", seed, faultSeedEnv, seed)
	return mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// shmTestNode is a test node on /dev/shm when there is one: fsync on the VM's disk costs milliseconds,
// and what is under test (rename semantics, what a kill leaves) is the same on tmpfs.
func shmTestNode(t *testing.T) testNode {
	t.Helper()
	root, err := os.MkdirTemp("/dev/shm", "cilium-chain-faults-")
	if err != nil {
		return newTestNode(t)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	return newTestNodeAt(t, root)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkChained is what the runtime needs of our conflist: libcni parses it and it chains
// cilium-chain exactly once.
func checkChained(data []byte) error {
	net, err := libcni.ConfListFromBytes(data)
	if err != nil {
		return fmt.Errorf("libcni: %w", err)
	}
	n := 0
	for _, p := range net.Plugins {
		if p.Network.Type == pluginType {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%d %s entries, want 1", n, pluginType)
	}
	return nil
}

// checkRuntimeView fails unless libcni.ConfFiles (what the runtime scans) lists exactly want in dir:
// never a temp file.
func checkRuntimeView(dir string, want ...string) error {
	files, err := libcni.ConfFiles(dir, confExtensions)
	if err != nil {
		return err
	}
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		return fmt.Errorf("libcni.ConfFiles(%s) = %v, want %v", dir, files, want)
	}
	return nil
}

// tempFiles lists the installer's temp files for name in dir.
func tempFiles(dir, name string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, tempPrefix(name)+"*"))
	return m
}

// holdFor checks every few milliseconds for d that check passes.
func holdFor(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if err := check(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectedConflist is what the installer with cfg should write for the conf dir as it is now,
// computed by an installer that is not running.
func expectedConflist(t *testing.T, cfg *config) []byte {
	t.Helper()
	ref, err := newInstaller(cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	d := ref.desired()
	if d.content == nil {
		t.Fatalf("no conflist expected: %s", d.problem)
	}
	return d.content
}

// TestFaultSIGKILLAtRandomPoints runs the real installer 200 times and kills it with SIGKILL after a
// random 0–50 ms (longer if a whole run takes longer here), each run with work due: a new primary (so a conflist write) and, in turn, a removed
// binary (a fresh install), a new plugin version in the image (a replacement) or nothing to do for
// the binary. After every kill, each file is either as before the run or complete and new — the
// binary byte-identical to a source, never partial; the conflist valid, one cilium-chain entry, equal
// to the one derived from the current or an earlier primary — and libcni lists no temp file. The
// next start removes the temp files a kill left.
func TestFaultSIGKILLAtRandomPoints(t *testing.T) {
	const runs = 200
	rng := faultRand(t)
	// The binary on tmpfs, so that copying it takes a few milliseconds, not a VM disk's fsync of 8 MiB.
	// The conf dir on the disk: there, the fsync before the rename makes a conflist write last long
	// enough for some kills to land in it (on tmpfs it takes microseconds).
	n := shmTestNode(t)
	n.confDir = filepath.Join(t.TempDir(), "net.d")
	if err := os.MkdirAll(n.confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := n.args("--debounce=1ms", "--settle=0s", "--resync=1h", "--log-level=info")
	cfg := mustConfig(t, args)
	confName, binName := cfg.confName, cfg.binaryName

	// Two plugin versions of different sizes, big enough that copying one takes a moment.
	sources := [2][]byte{randomBytes(t, 8<<20), randomBytes(t, 8<<20+4093)}
	src := 0
	if err := writeFileAtomic(n.source, sources[src], 0o755); err != nil {
		t.Fatal(err)
	}
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	pad := strings.Repeat("p", 64<<10)
	primaryVersion := func(i int) []byte {
		return []byte(strings.Replace(flannelPrimary, `"hairpinMode":true`,
			fmt.Sprintf(`"hairpinMode":true,"marker":"kill-%03d","pad":%q`, i, pad[:len(pad)-i%13]), 1))
	}

	// Kill delays: 0–50 ms, or up to as long as a run with everything to do takes here, if longer
	// (a loaded machine, the race detector), so that the kills still spread over the whole run.
	maxDelay := 50 * time.Millisecond
	full := time.Hour
	for i := 0; i < 2; i++ { // the faster of two, the first one warms the caches
		if err := os.Remove(n.binary()); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := writeFileAtomic(primary, primaryVersion(1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
		readyFile := filepath.Join(n.root, "ready-calibration")
		t0 := time.Now()
		p := startInstallerProcess(t, append(args, "--ready-file="+readyFile)...)
		eventually(t, 30*time.Second, "the calibration run ready", func() bool { return exists(readyFile) })
		full = min(full, time.Since(t0))
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
		if err := os.Remove(readyFile); err != nil {
			t.Fatal(err)
		}
	}
	maxDelay = max(maxDelay, full)
	t.Logf("a run with everything to do (a fresh install and a conflist write) takes %s here: kill delays 0–%s",
		full.Round(time.Millisecond), maxDelay.Round(time.Millisecond))

	var (
		beforeStart, beforeCopy, binMidWrite, betweenSteps, confMidWrite, bothDone, cleaned int
		delays                                                                              []int
		seenTemps                                                                           = map[string]bool{}
	)
	start := time.Now()
	for i := 1; i <= runs; i++ {
		switch i % 3 {
		case 0: // a fresh install
			if err := os.Remove(n.binary()); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		case 1: // a new plugin version in the image
			src ^= 1
			if err := writeFileAtomic(n.source, sources[src], 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := writeFileAtomic(primary, primaryVersion(i), 0o644); err != nil {
			t.Fatal(err)
		}
		want := expectedConflist(t, cfg)
		prevConf, confWas, err := readIfExists(n.ours())
		if err != nil {
			t.Fatal(err)
		}
		prevBin, binWas, err := readIfExists(n.binary())
		if err != nil {
			t.Fatal(err)
		}
		tempsBefore := append(tempFiles(n.confDir, confName), tempFiles(n.binDir, binName)...)

		delay := rng.IntN(int(maxDelay/time.Millisecond) + 1)
		delays = append(delays, delay)
		p := startInstallerProcess(t, args...)
		time.Sleep(time.Duration(delay) * time.Millisecond)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		if code := p.wait(t, 10*time.Second); code != -1 {
			t.Fatalf("run %d: exit code %d, want -1 (killed)", i, code)
		}
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("run %d (killed after %d ms): %s\ninstaller output:\n%s", i, delay, fmt.Sprintf(format, a...), p.output.String())
		}

		// The binary: as before the run, or the source, byte for byte.
		bin, binIs, err := readIfExists(n.binary())
		switch {
		case err != nil:
			fail("read the binary: %v", err)
		case !binIs && binWas:
			fail("the installed binary vanished")
		case binIs && !bytes.Equal(bin, sources[src]) && !(binWas && bytes.Equal(bin, prevBin)):
			fail("the installed binary is partial or foreign: %d bytes, the source has %d", len(bin), len(sources[src]))
		}
		if fi, err := os.Stat(n.binary()); err == nil && fi.Mode().Perm() != 0o755 {
			fail("the installed binary has mode %v, want 0755", fi.Mode().Perm())
		}

		// Our conflist: as before the run, or the one derived from this run's primary; always whole.
		conf, confIs, err := readIfExists(n.ours())
		switch {
		case err != nil:
			fail("read our conflist: %v", err)
		case !confIs && confWas:
			fail("our conflist vanished")
		case confIs && !bytes.Equal(conf, want) && !(confWas && bytes.Equal(conf, prevConf)):
			fail("our conflist is neither the previous one nor the expected one (%d bytes, want %d)", len(conf), len(want))
		}
		if confIs {
			if err := checkChained(conf); err != nil {
				fail("our conflist is not a valid chained conflist: %v", err)
			}
			if fi, err := os.Stat(n.ours()); err == nil && fi.Mode().Perm() != 0o644 {
				fail("our conflist has mode %v, want 0644", fi.Mode().Perm())
			}
		}

		// What the runtime scans: the primary and ours, never a temp file.
		view := []string{primary}
		if confIs {
			view = append(view, n.ours())
		}
		if err := checkRuntimeView(n.confDir, view...); err != nil {
			fail("%v", err)
		}

		// A start removes the temp files of earlier kills before it logs "started".
		started := strings.Contains(p.output.String(), "cilium-chain installer started")
		if started {
			for _, f := range tempsBefore {
				if exists(f) {
					fail("stale temp file %s survived a start", f)
				}
				cleaned++
			}
		}
		newTemps := func(dir, name string) int {
			k := 0
			for _, f := range tempFiles(dir, name) {
				if !seenTemps[f] {
					seenTemps[f] = true
					k++
				}
			}
			return k
		}
		binTemps, confTemps := newTemps(n.binDir, binName), newTemps(n.confDir, confName)
		binDone := binIs && bytes.Equal(bin, sources[src])
		switch {
		case !started:
			beforeStart++
		case binTemps > 0:
			binMidWrite++
		case confTemps > 0:
			confMidWrite++
		case binDone && confIs && bytes.Equal(conf, want):
			bothDone++
		case binDone:
			betweenSteps++
		default:
			beforeCopy++
		}
	}
	slices.Sort(delays)
	t.Logf("%d SIGKILLs in %s (delays %d–%d ms, median %d ms): %d before the installer started, %d before the binary copy "+
		"(hashing), %d mid-write of the binary, %d with the binary in place and our conflist not written yet, %d mid-write "+
		"of the conflist, %d after both were in place; the next start removed the %d temp file(s) left each time",
		runs, time.Since(start).Round(time.Millisecond), delays[0], delays[len(delays)-1], delays[len(delays)/2],
		beforeStart, beforeCopy, binMidWrite, betweenSteps, confMidWrite, bothDone, cleaned)
	if binMidWrite+confMidWrite == 0 {
		t.Errorf("no kill landed mid-write: the test did not exercise what it is for (the installer got slower or faster; retune the delays)")
	}

	// A normal start after all that removes what the kills left and gets everything right.
	left := len(tempFiles(n.confDir, confName)) + len(tempFiles(n.binDir, binName))
	readyFile := filepath.Join(n.root, "ready")
	p := startInstallerProcess(t, append(args, "--ready-file="+readyFile, "--keep-on-exit")...)
	eventually(t, 15*time.Second, "ready after the kills", func() bool { return exists(readyFile) })
	if rest := append(tempFiles(n.confDir, confName), tempFiles(n.binDir, binName)...); len(rest) > 0 {
		t.Errorf("temp files survived a normal start: %v", rest)
	}
	if left > 0 && !strings.Contains(p.output.String(), "stale temp file(s) of a previous run") {
		t.Errorf("%d temp files were left, but the start did not log removing them", left)
	}
	if b, _ := os.ReadFile(n.binary()); !bytes.Equal(b, sources[src]) {
		t.Error("the binary is not the source after a normal start")
	}
	if b, _ := os.ReadFile(n.ours()); !bytes.Equal(b, expectedConflist(t, cfg)) {
		t.Error("our conflist is not the expected one after a normal start")
	}
	t.Logf("the final normal start removed the %d temp file(s) the last kill left, and converged", left)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)
}

// mountTmpfs mounts a tmpfs of size on dir until the test ends.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size+",mode=0755"); err != nil {
		t.Skipf("cannot mount a %s tmpfs on %s (needs CAP_SYS_ADMIN): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v (detaching it)", dir, err)
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
}

// fillDisk fills dir's file system with a file named filler until a write fails with ENOSPC and
// returns its path. The name has no CNI extension: neither the runtime nor the installer looks at it.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 16<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bavail != 0 {
		t.Fatalf("%s still has %d free blocks after filling it", dir, st.Bavail)
	}
	return path
}

// logLine returns the first line of logs that contains s.
func logLine(logs, s string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestFaultDiskFullKeepsTheGoodFiles: the conf dir and the bin dir are small tmpfs file systems, full
// when the primary changes (a conflist write due) and when a new plugin version has to be installed.
// Each write fails with a clear "no space left on device", in the log and in the readiness reason;
// the previous conflist and binary stay in place, whole; no temp file remains or shows to libcni; the
// installer keeps retrying and converges once there is space again.
func TestFaultDiskFullKeepsTheGoodFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts small tmpfs file systems as the conf and bin dirs (run the tests as root)")
	}
	n := newTestNode(t)
	mountTmpfs(t, n.confDir, "256k")
	mountTmpfs(t, n.binDir, "1m")
	v1, v2 := randomBytes(t, 256<<10), randomBytes(t, 640<<10) // v2's temp fits next to v1 only without the filler
	if err := os.WriteFile(n.source, v1, 0o755); err != nil {
		t.Fatal(err)
	}
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	writeFile(t, primary, flannelWith("disk-1"), 0o644)
	// --keep-on-exit, as in the manifest: the second installer below is the next pod of an upgrade.
	cfg := mustConfig(t, n.args("--keep-on-exit", "--resync=1h", "--debounce=150ms"))
	const enospc = "no space left on device"

	r1 := startInstaller(t, cfg)
	eventually(t, 10*time.Second, "installed and ready", func() bool { return r1.in.ready.check() == nil })
	good, err := os.ReadFile(n.ours())
	if err != nil {
		t.Fatal(err)
	}

	// 1. The conf dir is full when the primary changes.
	confFiller := fillDisk(t, n.confDir)
	// In place and the same size: it gets its own page back.
	writeFile(t, primary, flannelWith("disk-2"), 0o644)
	eventually(t, 5*time.Second, "the conflist write fails with ENOSPC in the readiness reason", func() bool {
		err := r1.in.ready.check()
		return err != nil && strings.Contains(err.Error(), enospc)
	})
	confLog := logLine(r1.logs.String(), "cannot write our conflist")
	if !strings.Contains(confLog, enospc) {
		t.Fatalf("no error logged naming %q; logs:\n%s", enospc, r1.logs.String())
	}
	t.Logf("conf dir full, log: %s", confLog)
	t.Logf("conf dir full, /readyz: not ready: %v", r1.in.ready.check())
	// Over a retry (every second): the last good conflist stays, whole; libcni never sees a temp file;
	// the installer stays not ready.
	holdFor(t, 1500*time.Millisecond, "while the conf dir is full", func() error {
		if b, err := os.ReadFile(n.ours()); err != nil || !bytes.Equal(b, good) {
			return fmt.Errorf("our conflist changed (%d bytes, err %v)", len(b), err)
		}
		if err := r1.in.ready.check(); err == nil || !strings.Contains(err.Error(), enospc) {
			return fmt.Errorf("readiness = %v, want not ready naming ENOSPC", err)
		}
		return checkRuntimeView(n.confDir, primary, n.ours())
	})
	if err := checkChained(good); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "no temp file left in the conf dir", func() bool { return len(tempFiles(n.confDir, cfg.confName)) == 0 })
	// The same failure, retried every second, is one state: logged once (status), not at every retry.
	if k := strings.Count(r1.logs.String(), "cannot write our conflist"); k != 1 {
		t.Errorf("the same ENOSPC was logged %d times over %s of retries, want once", k, 1500*time.Millisecond)
	}
	if strings.Contains(confLog, tempPrefix(cfg.confName)) {
		t.Errorf("the error names our temp file rather than %s: %s", n.ours(), confLog)
	}
	// What the installer's writes return on a full disk: ENOSPC, for errors.Is too, naming the file.
	probe := filepath.Join(n.confDir, "probe.conflist")
	err = writeFileAtomic(probe, good, 0o644)
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "write "+probe+": no space left on device" {
		t.Errorf("writeFileAtomic on a full disk = %v, want ENOSPC naming %s", err, probe)
	}
	if exists(probe) || len(tempFiles(n.confDir, "probe.conflist")) > 0 {
		t.Error("a failed write left a file behind")
	}

	if err := os.Remove(confFiller); err != nil {
		t.Fatal(err)
	}
	want := expectedConflist(t, cfg)
	took := eventually(t, 3*time.Second, "our conflist follows the primary once there is space", func() bool {
		b, _ := os.ReadFile(n.ours())
		return bytes.Equal(b, want) && r1.in.ready.check() == nil
	})
	t.Logf("conf dir freed: converged in %s", took.Round(time.Millisecond))
	if !fileContains(n.ours(), "disk-2") {
		t.Fatal("converged to a conflist without the new primary's marker")
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}

	// 2. An upgrade brings a bigger plugin binary, and the bin dir is full.
	binFiller := fillDisk(t, n.binDir)
	if err := writeFileAtomic(n.source, v2, 0o755); err != nil {
		t.Fatal(err)
	}
	r2 := startInstaller(t, cfg)
	eventually(t, 5*time.Second, "the binary install fails with ENOSPC in the readiness reason", func() bool {
		err := r2.in.ready.check()
		return err != nil && strings.Contains(err.Error(), "plugin binary") && strings.Contains(err.Error(), enospc)
	})
	binLog := logLine(r2.logs.String(), "cannot install the plugin binary")
	if !strings.Contains(binLog, enospc) {
		t.Fatalf("no error logged naming %q; logs:\n%s", enospc, r2.logs.String())
	}
	t.Logf("bin dir full, log: %s", binLog)
	t.Logf("bin dir full, /readyz: not ready: %v", r2.in.ready.check())
	holdFor(t, 1500*time.Millisecond, "while the bin dir is full", func() error {
		if b, err := os.ReadFile(n.binary()); err != nil || !bytes.Equal(b, v1) {
			return fmt.Errorf("the installed binary changed (%d bytes, err %v)", len(b), err)
		}
		if fi, err := os.Stat(n.binary()); err != nil || fi.Mode().Perm() != 0o755 {
			return fmt.Errorf("the installed binary: %v, %v", fi.Mode(), err)
		}
		if b, err := os.ReadFile(n.ours()); err != nil || !bytes.Equal(b, want) {
			return fmt.Errorf("our conflist changed (%d bytes, err %v)", len(b), err)
		}
		if err := r2.in.ready.check(); err == nil || !strings.Contains(err.Error(), enospc) {
			return fmt.Errorf("readiness = %v, want not ready naming ENOSPC", err)
		}
		return checkRuntimeView(n.confDir, primary, n.ours())
	})
	eventually(t, time.Second, "no temp file left in the bin dir", func() bool { return len(tempFiles(n.binDir, cfg.binaryName)) == 0 })
	if k := strings.Count(r2.logs.String(), "cannot install the plugin binary"); k != 1 {
		t.Errorf("the same ENOSPC was logged %d times over %s of retries, want once", k, 1500*time.Millisecond)
	}
	if strings.Contains(binLog, tempPrefix(cfg.binaryName)) {
		t.Errorf("the error names our temp file rather than %s: %s", n.binary(), binLog)
	}

	if err := os.Remove(binFiller); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, 3*time.Second, "the new binary is installed once there is space", func() bool {
		b, _ := os.ReadFile(n.binary())
		return bytes.Equal(b, v2) && r2.in.ready.check() == nil
	})
	t.Logf("bin dir freed: converged in %s", took.Round(time.Millisecond))
	if b, _ := os.ReadFile(n.ours()); !bytes.Equal(b, want) {
		t.Error("our conflist changed during the binary upgrade")
	}
}

// TestFaultPrimaryBurst: the primary rewritten 100 times as fast as the test can (in place, as
// Flannel's cp does, each version with its own marker) ends with ours equal to primary #100 plus our
// entry within 2 s, written far fewer than 100 times thanks to the debounce.
func TestFaultPrimaryBurst(t *testing.T) {
	const rewrites = 100
	n := newTestNode(t)
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	version := func(i int) string { return flannelWith(fmt.Sprintf("burst-%03d", i)) }
	writeFile(t, primary, version(0), 0o644)
	cfg := mustConfig(t, n.args("--debounce=150ms", "--settle=300ms", "--resync=1h"))
	r := startInstaller(t, cfg)
	eventually(t, 10*time.Second, "first conflist", func() bool { return fileContains(n.ours(), `"marker": "burst-000"`) })
	eventually(t, 2*time.Second, "ready", func() bool { return r.in.ready.check() == nil })
	const wrote = `msg="wrote conflist"`
	before := strings.Count(r.logs.String(), wrote)

	var longGaps int // pauses of the writer of a debounce or more: each may end in a write of ours
	var maxGap time.Duration
	start := time.Now()
	last := start
	for i := 1; i <= rewrites; i++ {
		if err := os.WriteFile(primary, []byte(version(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if gap := now.Sub(last); gap > maxGap {
			maxGap = gap
		}
		if now.Sub(last) >= cfg.debounce {
			longGaps++
		}
		last = now
	}
	burst := time.Since(start)

	want := expectedConflist(t, cfg)
	took := eventually(t, 2*time.Second, "ours matches primary #100 plus our entry", func() bool {
		b, _ := os.ReadFile(n.ours())
		return bytes.Equal(b, want)
	})
	// Independently of the installer's code: libcni reads the primary's plugins, then ours, with
	// the last marker.
	got, _ := os.ReadFile(n.ours())
	net, err := libcni.ConfListFromBytes(got)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range net.Plugins {
		types = append(types, p.Network.Type)
	}
	if !slices.Equal(types, []string{"flannel", "portmap", pluginType}) || net.Name != "cbr0" ||
		!strings.Contains(string(net.Plugins[0].Bytes), `"marker":"burst-100"`) {
		t.Fatalf("ours = %v %v, want cbr0 [flannel portmap %s] with marker burst-100:\n%s", net.Name, types, pluginType, got)
	}
	// Any round still pending (debounce, settle) runs and must not change it.
	holdFor(t, cfg.debounce+cfg.settle+100*time.Millisecond, "after converging", func() error {
		if b, _ := os.ReadFile(n.ours()); !bytes.Equal(b, want) {
			return errors.New("ours changed again")
		}
		return nil
	})
	writes := strings.Count(r.logs.String(), wrote) - before
	t.Logf("%d rewrites of the primary in %s (longest pause %s, %d of a debounce or more): ours written %d time(s), "+
		"matching #%d %s after the burst", rewrites, burst.Round(time.Microsecond), maxGap.Round(time.Microsecond), longGaps,
		writes, rewrites, took.Round(time.Millisecond))
	if writes < 1 || writes > 10 {
		t.Errorf("ours written %d times during a burst of %d rewrites, want 1 to 10 (debounced)", writes, rewrites)
	}
}
