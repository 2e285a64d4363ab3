package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// installerProcess is the real installer main in a child process (this test binary, re-executed).
type installerProcess struct {
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error
}

func startInstallerProcess(t *testing.T, args ...string) *installerProcess {
	t.Helper()
	p := &installerProcess{output: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), asInstallerEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("installer output:\n%s", p.output.String())
		}
	})
	return p
}

// wait returns the exit code, failing the test after timeout.
func (p *installerProcess) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("installer did not exit within %s", timeout)
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		return exitErr.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// TestSignalCleanup runs the real binary, stops it with a signal and checks what it leaves on the node.
func TestSignalCleanup(t *testing.T) {
	tests := []struct {
		name         string
		flags        []string
		sig          syscall.Signal
		wantConflist bool
		wantBinary   bool
	}{
		{name: "SIGTERM keeps the conflist by default (a restart never fails open)", sig: syscall.SIGTERM, wantConflist: true, wantBinary: true},
		{name: "SIGINT too", sig: syscall.SIGINT, wantConflist: true, wantBinary: true},
		{name: "keep-on-exit=false removes it", flags: []string{"--keep-on-exit=false"}, sig: syscall.SIGTERM, wantConflist: false, wantBinary: true},
		{name: "uninstall: keep-on-exit=false with uninstall-binary removes both", flags: []string{"--keep-on-exit=false", "--uninstall-binary"}, sig: syscall.SIGTERM, wantConflist: false, wantBinary: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			primary := filepath.Join(n.confDir, "10-flannel.conflist")
			writeFile(t, primary, flannelPrimary, 0o644)
			readyFile := filepath.Join(n.root, "ready")
			p := startInstallerProcess(t, n.args(append(tt.flags, "--ready-file="+readyFile)...)...)
			eventually(t, 10*time.Second, "ready", func() bool { return exists(readyFile) })

			if err := p.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("exit code %d, want 0", code)
			}
			if got := exists(n.ours()); got != tt.wantConflist {
				t.Errorf("conflist exists = %v, want %v", got, tt.wantConflist)
			}
			if got := exists(n.binary()); got != tt.wantBinary {
				t.Errorf("binary exists = %v, want %v", got, tt.wantBinary)
			}
			if exists(readyFile) {
				t.Error("ready file left behind")
			}
			if !exists(primary) {
				t.Error("the primary was touched")
			}
		})
	}
}

// TestSIGKILLLeavesNoPartialFile kills the installer at random moments while it is copying a big
// binary or rewriting a big conflist (the test keeps changing the primary). After every kill, the
// runtime's view must be whole: the binary absent or complete, the conflist absent or valid, no
// stray .conf/.conflist/.json; leftover temp files are hidden and the next start removes them.
func TestSIGKILLLeavesNoPartialFile(t *testing.T) {
	n := newTestNode(t)
	bigBinary := make([]byte, 16<<20)
	rand.Read(bigBinary)
	if err := os.WriteFile(n.source, bigBinary, 0o755); err != nil {
		t.Fatal(err)
	}
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	pad := strings.Repeat("p", 512<<10)
	primaryVersion := func(i int) []byte {
		return []byte(strings.Replace(flannelPrimary, `"hairpinMode":true`, fmt.Sprintf(`"hairpinMode":true,"v":%d,"pad":%q`, i, pad[:len(pad)-i%7]), 1))
	}
	if err := writeFileAtomic(primary, primaryVersion(0), 0o644); err != nil {
		t.Fatal(err)
	}

	// The primary keeps changing, so the installer keeps rewriting ours.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = writeFileAtomic(primary, primaryVersion(i), 0o644)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	const kills = 16
	leftovers := 0
	for i := 0; i < kills; i++ {
		if i%2 == 0 {
			os.Remove(n.binary()) // make this run copy the binary again
		}
		p := startInstallerProcess(t, n.args("--debounce=1ms", "--settle=0s")...)
		time.Sleep(time.Duration(mrand.IntN(150)) * time.Millisecond)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		if code := p.wait(t, 10*time.Second); code != -1 {
			t.Fatalf("kill %d: exit code %d, want -1 (killed)", i, code)
		}
		if b, err := os.ReadFile(n.binary()); err == nil && !bytes.Equal(b, bigBinary) {
			t.Fatalf("kill %d: the installed binary is partial (%d of %d bytes)", i, len(b), len(bigBinary))
		}
		if b, err := os.ReadFile(n.ours()); err == nil {
			if _, err := libcni.ConfListFromBytes(b); err != nil || !holdsOurEntry(b) {
				t.Fatalf("kill %d: our conflist is partial or invalid (%d bytes): %v", i, len(b), err)
			}
		}
		files, _ := libcni.ConfFiles(n.confDir, confExtensions)
		for _, f := range files {
			if f != primary && f != n.ours() {
				t.Fatalf("kill %d: the runtime would read %s", i, f)
			}
		}
		temps, _ := filepath.Glob(filepath.Join(n.confDir, ".05-cilium.conflist.tmp-*"))
		binTemps, _ := filepath.Glob(filepath.Join(n.binDir, ".cilium-chain.tmp-*"))
		if len(temps)+len(binTemps) > 0 {
			leftovers++
		}
	}
	t.Logf("%d kills, %d of them left a temp file (killed mid-write)", kills, leftovers)

	// A normal start cleans up after the killed ones and gets everything right.
	readyFile := filepath.Join(n.root, "ready")
	p := startInstallerProcess(t, n.args("--ready-file="+readyFile)...)
	eventually(t, 15*time.Second, "ready after the kills", func() bool { return exists(readyFile) })
	for _, pattern := range []string{filepath.Join(n.confDir, ".05-cilium.conflist.tmp-*"), filepath.Join(n.binDir, ".cilium-chain.tmp-*")} {
		if left, _ := filepath.Glob(pattern); len(left) > 0 {
			t.Errorf("stale temp files survived a restart: %v", left)
		}
	}
	if b, _ := os.ReadFile(n.binary()); !bytes.Equal(b, bigBinary) {
		t.Error("binary not complete after restart")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 10*time.Second)
}

// TestExitCodes: bad options exit 2 with a hint, --help exits 0 and prints the flags.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{args: []string{"--help"}, wantCode: 0, wantOut: "--conf-dir  (CILIUM_CHAIN_CONF_DIR"},
		{args: []string{"--mode=bogus"}, wantCode: 2, wantOut: "--help"},
		{args: []string{"--plugin-labels=reserved:host"}, wantCode: 2, wantOut: "reserved"},
		{args: []string{"--ready-addr=", "--binary-source=/nonexistent", "--conf-dir=" + t.TempDir(), "--bin-dir=" + t.TempDir(), "--resync=50ms"}, wantCode: -2},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			p := startInstallerProcess(t, tt.args...)
			if tt.wantCode == -2 {
				// A missing plugin binary is retried (the pod stays unready), not a crash loop.
				eventually(t, 5*time.Second, "binary error logged", func() bool {
					return strings.Contains(p.output.String(), "cannot install the plugin binary")
				})
				select {
				case <-p.done:
					t.Fatal("exited on a missing source binary")
				default:
				}
				return
			}
			if code := p.wait(t, 10*time.Second); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\n%s", code, tt.wantCode, p.output.String())
			}
			if !strings.Contains(p.output.String(), tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, p.output.String())
			}
		})
	}
}
