package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestShutdownRemovesOnlyWhatIsOurs: on exit, a conflist without a cilium-chain entry and a binary
// that is not the one we ship are someone else's and stay, whatever the flags say.
func TestShutdownRemovesOnlyWhatIsOurs(t *testing.T) {
	foreignConflist := `{"cniVersion":"1.0.0","name":"cilium","plugins":[{"type":"cilium-cni"}]}`
	tests := []struct {
		name          string
		tamper        func(n testNode)
		wantConflist  bool
		wantBinary    bool
		wantConflistC string // expected content when kept ("" = don't care)
	}{
		{name: "ours: both removed", tamper: func(testNode) {}, wantConflist: false, wantBinary: false},
		{name: "foreign conflist stays", tamper: func(n testNode) { writeFile(t, n.ours(), foreignConflist, 0o644) },
			wantConflist: true, wantBinary: false, wantConflistC: foreignConflist},
		{name: "foreign binary stays", tamper: func(n testNode) { writeFile(t, n.binary(), "#!/bin/sh\necho other\n", 0o755) },
			wantConflist: false, wantBinary: true},
		{name: "ours edited by hand but still chaining us: removed", tamper: func(n testNode) {
			writeFile(t, n.ours(), `{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"},{"type":"cilium-chain","x":1}]}`, 0o644)
		}, wantConflist: false, wantBinary: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t)
			writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
			in, err := newInstaller(mustConfig(t, n.args("--keep-on-exit=false", "--uninstall-binary")), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			if wait := in.reconcile(context.Background()); wait != 0 || in.ready.check() != nil {
				t.Fatalf("first round not done: wait=%s ready=%v", wait, in.ready.check())
			}
			tt.tamper(n)
			in.shutdown()
			if got := exists(n.ours()); got != tt.wantConflist {
				t.Errorf("conflist exists = %v, want %v", got, tt.wantConflist)
			}
			if got := exists(n.binary()); got != tt.wantBinary {
				t.Errorf("binary exists = %v, want %v", got, tt.wantBinary)
			}
			if tt.wantConflistC != "" {
				if b, _ := os.ReadFile(n.ours()); string(b) != tt.wantConflistC {
					t.Errorf("conflist changed: %s", b)
				}
			}
		})
	}
}
