package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/sirupsen/logrus"
)

var update = flag.Bool("update", false, "rewrite the golden files under ../testdata/install/golden")

// goldenDir holds one directory per case: net.d/ (the node's conf dir), an optional args file (installer
// flags, one a line, $CASE for the case's dir), and the expected want.conflist and/or want.problem.
const goldenDir = "../testdata/install/golden"

func TestGoldenConflists(t *testing.T) {
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 14 {
		t.Fatalf("only %d golden cases in %s", len(entries), goldenDir)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			caseDir, err := filepath.Abs(filepath.Join(goldenDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"--conf-dir=" + filepath.Join(caseDir, "net.d")}
			if b, err := os.ReadFile(filepath.Join(caseDir, "args")); err == nil {
				for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					args = append(args, strings.ReplaceAll(line, "$CASE", caseDir))
				}
			}
			cfg := mustConfig(t, args)
			log := logrus.New()
			log.SetOutput(io.Discard)
			in, err := newInstaller(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			d := in.desired()
			problem := strings.ReplaceAll(d.problem, caseDir, "$CASE")
			compareGolden(t, filepath.Join(caseDir, "want.conflist"), d.content)
			compareGolden(t, filepath.Join(caseDir, "want.problem"), []byte(problem))
			if d.content != nil && cfg.mode == modeDerived {
				primary, err := os.ReadFile(d.source)
				if err != nil {
					t.Fatal(err)
				}
				checkDerived(t, primary, filepath.Ext(d.source) != ".conflist", d.content, in.entry)
			}
		})
	}
}

// compareGolden checks got against the file (absent file = empty), or rewrites it with -update.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if len(got) == 0 {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./install -run Golden -update to accept)\n--- got:\n%s\n--- want:\n%s",
			filepath.Base(path), got, want)
	}
}

// checkDerived asserts the transform's promises independently of the golden bytes, so an -update
// that accepted a wrong output still fails: same name and cniVersion, every top-level field and every
// other plugin unchanged in meaning and order, exactly one entry of ours, equal to the rendered one.
func checkDerived(t *testing.T, primary []byte, lift bool, out []byte, entry json.RawMessage) {
	t.Helper()
	if _, err := libcni.ConfListFromBytes(out); err != nil {
		t.Fatalf("libcni refuses the output: %v", err)
	}
	var src, got map[string]any
	mustUnmarshal(t, primary, &src)
	mustUnmarshal(t, out, &got)
	srcPlugins := []any{src}
	if !lift {
		srcPlugins = src["plugins"].([]any)
		for k, v := range src {
			if k != "plugins" && !reflect.DeepEqual(got[k], v) {
				t.Errorf("top-level %q changed: %v -> %v", k, v, got[k])
			}
		}
	}
	for _, k := range []string{"name", "cniVersion"} {
		if got[k] != src[k] {
			t.Errorf("%s changed: %v -> %v", k, src[k], got[k])
		}
	}
	var wantEntry any
	mustUnmarshal(t, entry, &wantEntry)
	var others []any
	ours := 0
	for _, p := range got["plugins"].([]any) {
		if p.(map[string]any)["type"] == pluginType {
			ours++
			if !reflect.DeepEqual(p, wantEntry) {
				t.Errorf("our entry is %v, want %v", p, wantEntry)
			}
			continue
		}
		others = append(others, p)
	}
	if ours != 1 {
		t.Errorf("%d %s entries, want exactly 1", ours, pluginType)
	}
	var wantOthers []any
	for _, p := range srcPlugins {
		if typ := p.(map[string]any)["type"]; typ != pluginType && typ != upstreamType {
			wantOthers = append(wantOthers, p)
		}
	}
	if !reflect.DeepEqual(others, wantOthers) {
		t.Errorf("the primary's plugins changed:\n got %v\nwant %v", others, wantOthers)
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}
