package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

// FuzzDeriveConflist feeds arbitrary primaries to the transform: it must never panic, and whatever it
// accepts must come out as a conflist libcni parses, with the primary's name and version, exactly one
// entry of ours, and unchanged when derived again (so the installer never flaps its own file).
// Seeds: the golden primaries, plus the corpus in testdata/fuzz/FuzzDeriveConflist (a link to the
// repository's testdata/fuzz, where `go test -fuzz` also stores what it finds).
func FuzzDeriveConflist(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(goldenDir, "*", "net.d", "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, !strings.HasSuffix(p, ".conflist"))
		}
	}
	f.Add([]byte(flannelPrimary), false)
	entry, err := pluginEntry(pluginFlags{logLevel: "debug", labels: "k8s:a=b", extraJSON: `{"x":"<&>"}`})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, primary []byte, lift bool) {
		out, err := deriveConflist(primary, lift, entry)
		if err != nil {
			if out != nil {
				t.Fatalf("output %q with error %v", out, err)
			}
			return
		}
		got, err := libcni.ConfListFromBytes(out)
		if err != nil {
			t.Fatalf("libcni refuses the output: %v\n%s", err, out)
		}
		var wantName, wantVersion string
		if lift {
			conf, err := libcni.NetworkPluginConfFromBytes(primary)
			if err != nil {
				t.Fatalf("accepted a conf libcni refuses: %v", err)
			}
			wantName, wantVersion = conf.Network.Name, conf.Network.CNIVersion
		} else {
			list, err := libcni.ConfListFromBytes(primary)
			if err != nil {
				t.Fatalf("accepted a conflist libcni refuses: %v", err)
			}
			wantName, wantVersion = list.Name, list.CNIVersion
		}
		if got.Name != wantName || got.CNIVersion != wantVersion {
			t.Fatalf("network %q/%q became %q/%q", wantName, wantVersion, got.Name, got.CNIVersion)
		}
		ours := 0
		for _, p := range got.Plugins {
			switch p.Network.Type {
			case pluginType:
				ours++
				var e, want any
				if json.Unmarshal(p.Bytes, &e) != nil || json.Unmarshal(entry, &want) != nil || !jsonEqual(e, want) {
					t.Fatalf("our entry is %s, want %s", p.Bytes, entry)
				}
			case upstreamType:
				t.Fatalf("a cilium-cni entry survived:\n%s", out)
			}
		}
		if ours != 1 {
			t.Fatalf("%d entries of ours:\n%s", ours, out)
		}
		again, err := deriveConflist(out, false, entry)
		if err != nil {
			t.Fatalf("deriving the output again fails: %v\n%s", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%s\nthen\n%s", out, again)
		}
	})
}

func jsonEqual(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}
