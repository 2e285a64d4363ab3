package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// roundOnce runs one reconcile round and returns the readiness error (nil: ready).
func roundOnce(t *testing.T, in *installer) error {
	t.Helper()
	in.reconcile(context.Background())
	return in.ready.check()
}

// TestFailClosedKeepsOursWhileAPrimaryExists: a primary that is still there but cannot be chained
// (torn or invalid, an unchainable cniVersion, a --primary-network that stopped matching, only cilium
// entries) leaves our last good conflist in place and makes us unready with the reason; only a conf
// dir with no other config at all removes ours.
func TestFailClosedKeepsOursWhileAPrimaryExists(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		breakIt    string // the primary's new content
		wantReason string
	}{
		{name: "invalid JSON", breakIt: `{"name":"cbr0","plugins":[`, wantReason: "is invalid"},
		{name: "cniVersion without prevResult", breakIt: strings.Replace(flannelPrimary, "0.3.1", "0.2.0", 1), wantReason: "cannot be chained"},
		{name: "primary-network stopped matching", args: []string{"--primary-network=cbr0"},
			breakIt: strings.Replace(flannelPrimary, `"cbr0"`, `"cbr1"`, 1), wantReason: `with network name "cbr0"`},
		{name: "only cilium entries", breakIt: `{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"cilium-cni"}]}`, wantReason: "nothing to chain onto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			primary := filepath.Join(n.confDir, "10-flannel.conflist")
			writeFile(t, primary, flannelPrimary, 0o644)
			in, err := newInstaller(mustConfig(t, n.args(append(tt.args, "--settle=0s")...)), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			if err := roundOnce(t, in); err != nil {
				t.Fatalf("first round not ready: %v", err)
			}
			good, _ := os.ReadFile(n.ours())

			writeFile(t, primary, tt.breakIt, 0o644)
			err = roundOnce(t, in)
			if err == nil || !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("readiness = %v, want not ready with %q", err, tt.wantReason)
			}
			if got, _ := os.ReadFile(n.ours()); !bytes.Equal(got, good) {
				t.Fatalf("our last good conflist was not kept: %q", got)
			}

			if err := os.Remove(primary); err != nil {
				t.Fatal(err)
			}
			roundOnce(t, in)
			if exists(n.ours()) {
				t.Fatal("ours stayed with no other config left at all")
			}
		})
	}
}

// TestStatusLoggedOnceThenPeriodically: an unchanged not-ready state is logged once, not on every
// resync, and again after statusRepeat so recent logs still say why.
func TestStatusLoggedOnceThenPeriodically(t *testing.T) {
	n := newTestNode(t)
	primary := filepath.Join(n.confDir, "10-flannel.conflist")
	writeFile(t, primary, flannelPrimary, 0o644)
	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	in, err := newInstaller(mustConfig(t, n.args("--settle=0s")), log)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	in.now = func() time.Time { return now }
	roundOnce(t, in)
	writeFile(t, primary, `{"broken`, 0o644)
	count := func() int { return strings.Count(logs.String(), "keeping our last conflist") }
	for i := 0; i < 5; i++ {
		roundOnce(t, in)
		now = now.Add(10 * time.Second)
	}
	if got := count(); got != 1 {
		t.Fatalf("logged %d times within a minute, want once", got)
	}
	now = now.Add(statusRepeat)
	roundOnce(t, in)
	if got := count(); got != 2 {
		t.Fatalf("logged %d times after %s, want twice", got, statusRepeat)
	}
}

// TestCustomModeNameRule: a custom conflist named unlike the primary is refused by default (the
// last good file stays), written with the primary's name under use-primary, as given under allow;
// with no primary there is nothing to compare with.
func TestCustomModeNameRule(t *testing.T) {
	renamed := `{"cniVersion":"0.3.1","name":"generic-veth","plugins":[{"type":"flannel"},{"type":"cilium-chain"}]}`
	tests := []struct {
		policy     string
		noPrimary  bool
		wantName   string // "" = not written
		wantReason string
	}{
		{policy: "refuse", wantReason: `network name "generic-veth" is not the primary's "cbr0"`},
		{policy: "use-primary", wantName: "cbr0"},
		{policy: "allow", wantName: "generic-veth"},
		{policy: "refuse", noPrimary: true, wantName: "generic-veth"},
	}
	for _, tt := range tests {
		t.Run(tt.policy+map[bool]string{true: " without primary"}[tt.noPrimary], func(t *testing.T) {
			n := newTestNode(t)
			if !tt.noPrimary {
				writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
			}
			custom := filepath.Join(n.root, "custom")
			writeFile(t, custom, renamed, 0o644)
			in, err := newInstaller(mustConfig(t, n.args("--mode=custom", "--custom-conflist="+custom, "--custom-name-mismatch="+tt.policy)), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			err = roundOnce(t, in)
			if tt.wantName == "" {
				if exists(n.ours()) {
					t.Fatal("a renamed custom conflist was written")
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantReason) {
					t.Fatalf("readiness = %v, want %q", err, tt.wantReason)
				}
				return
			}
			if !fileContains(n.ours(), `"name":"`+tt.wantName+`"`) && !fileContains(n.ours(), `"name": "`+tt.wantName+`"`) {
				b, _ := os.ReadFile(n.ours())
				t.Fatalf("written %s, want network name %q", b, tt.wantName)
			}
		})
	}
}

// TestRuntimeRules: what the runtime makes of the conf dir decides readiness, per runtime.
func TestRuntimeRules(t *testing.T) {
	tests := []struct {
		name       string
		runtime    string
		files      map[string]string
		binaries   []string // present in the bin dir besides ours
		wantReason string   // "" = ready
	}{
		{name: "containerd: an invalid file before ours fails the node", runtime: "containerd",
			files: map[string]string{"01-broken.conf": `{"type":`}, wantReason: "containerd's CRI plugin (go-cni) fails the node's CNI on"},
		{name: "containerd: an invalid file after ours is never read", runtime: "containerd",
			files: map[string]string{"50-broken.conf": `{"type":`}},
		{name: "crio: skips an invalid file before ours", runtime: "crio",
			files: map[string]string{"01-broken.conf": `{"type":`}, binaries: []string{"flannel", "portmap"}},
		{name: "crio: skips our file when a binary is missing", runtime: "crio", binaries: []string{"flannel"},
			wantReason: "CRI-O skips a conflist whose plugin binaries are missing, and [portmap]"},
		{name: "crio: skips a file before ours whose binary is missing", runtime: "crio", binaries: []string{"flannel", "portmap"},
			files: map[string]string{"01-other.conf": `{"cniVersion":"0.3.1","name":"x","type":"not-installed"}`}},
		{name: "containerd: a valid file before ours shadows it", runtime: "containerd",
			files: map[string]string{"01-other.conf": `{"cniVersion":"0.3.1","name":"x","type":"not-installed"}`}, wantReason: "sorts before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bins := map[string]string{}
			for _, b := range tt.binaries {
				bins[b] = versionScript // CRI-O asks every binary VERSION: the fakes answer as plugins do
			}
			n := flannelNodeWith(t, tt.files, bins)
			in, err := newInstaller(mustConfig(t, n.args("--container-runtime="+tt.runtime, "--primary-network=cbr0")), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			err = roundOnce(t, in)
			wantErrContaining(t, err, tt.wantReason)
			if !exists(n.ours()) {
				t.Error("ours not written: the reason is the runtime's, the file is still right")
			}
		})
	}
}

// TestRefusesFilesThatAreNotOurs: a --conf-name that is another config's file, or a --binary-name
// that is another plugin's, fails the start: we would overwrite (and on uninstall remove) it.
func TestRefusesFilesThatAreNotOurs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "conf-name is the primary's file", args: []string{"--conf-name=10-flannel.conflist"}, wantErr: "is another config"},
		{name: "conf-name is Cilium's own file", args: []string{"--conf-name=05-cilium.conflist"}, wantErr: "is another config"},
		{name: "binary-name is a reference plugin", args: []string{"--binary-name=portmap"}, wantErr: "another CNI plugin's binary"},
		{name: "binary-name is a type in the conf dir", args: []string{"--binary-name=my-primary"}, wantErr: "is the type of a plugin in"},
		{name: "our own names are fine", args: []string{"--conf-name=04-cilium.conflist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
			writeFile(t, filepath.Join(n.confDir, "20-mine.conf"), `{"cniVersion":"0.3.1","name":"m","type":"my-primary"}`, 0o644)
			writeFile(t, filepath.Join(n.confDir, "05-cilium.conflist"), `{"cniVersion":"0.3.1","name":"cilium","plugins":[{"type":"cilium-cni"}]}`, 0o644)
			_, err := newInstaller(mustConfig(t, n.args(tt.args...)), quietLogger())
			wantErrContaining(t, err, tt.wantErr)
		})
	}
}

// TestCiliumBakNamed: with no primary but a config Cilium's cni.exclusive renamed away, the reason says so.
func TestCiliumBakNamed(t *testing.T) {
	n := newTestNode(t)
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist.cilium_bak"), flannelPrimary, 0o644)
	in, err := newInstaller(mustConfig(t, n.args()), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := roundOnce(t, in); err == nil || !strings.Contains(err.Error(), "10-flannel.conflist.cilium_bak") {
		t.Fatalf("readiness = %v, want the .cilium_bak file named", err)
	}
}
