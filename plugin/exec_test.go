package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

func TestVersion(t *testing.T) {
	o := run(t, "VERSION", nil, map[string]string{})
	o.wantCode(t, 0, "")
	var info struct {
		SupportedVersions []string `json:"supportedVersions"`
		PluginVersion     string   `json:"pluginVersion"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &info); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info.SupportedVersions, cniVersions) {
		t.Fatalf("supported versions %v, want %v (0.1/0.2 cannot chain)", info.SupportedVersions, cniVersions)
	}
	// make build stamps git describe's version, go build leaves "dev" (TestVersionStamp checks -X).
	if info.PluginVersion == "" {
		t.Fatal("VERSION reply names no plugin version")
	}
	out, err := exec.Command(pluginBin, "--version").Output()
	if err != nil || string(out) != "cilium-chain "+info.PluginVersion+"\n" {
		t.Fatalf("--version: %q, %v; VERSION says %q", out, err, info.PluginVersion)
	}
}

func TestBadInputCodes(t *testing.T) {
	e := newEnv(t)
	notSocket := filepath.Join(e.dir, "regular-file")
	_ = os.WriteFile(notSocket, nil, 0o600)
	for _, v := range cniVersions {
		cases := []struct {
			name    string
			command string
			stdin   []byte
			env     map[string]string
			code    uint
			msg     string
		}{
			{"empty stdin", "ADD", nil, nil, types.ErrDecodingFailure, ""},
			{"malformed stdin", "ADD", []byte(`{"cniVersion":"` + v + `",`), nil, types.ErrDecodingFailure, ""},
			{"missing prevResult", "ADD", e.stdin(v, nil), nil, types.ErrInvalidNetworkConfig, "prevResult"},
			{"unknown key", "ADD", e.stdin(v, map[string]any{"sokcet-path": "/x"}), nil, types.ErrInvalidNetworkConfig, "sokcet-path"},
			{"socket path that is not a socket", "ADD", e.stdin(v, map[string]any{"socket-path": notSocket}), nil, types.ErrInvalidNetworkConfig, notSocket},
			{"invalid timeout", "DEL", e.stdin(v, map[string]any{"del-timeout": "forever"}), nil, types.ErrInvalidNetworkConfig, "del-timeout"},
			{"netns path missing", "ADD", e.stdin(v, map[string]any{"prevResult": flannelPrev(t, v)}), nil, types.ErrInvalidEnvironmentVariables, "CNI_NETNS"},
			{"CNI_ARGS pair without =", "DEL", e.stdin(v, nil), map[string]string{"CNI_ARGS": "IgnoreUnknown=1;oops"}, types.ErrInvalidEnvironmentVariables, "oops"},
			{"container ID with a slash", "DEL", e.stdin(v, nil), map[string]string{"CNI_CONTAINERID": "a/b"}, types.ErrInvalidEnvironmentVariables, ""},
		}
		for _, tc := range cases {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				envVars := map[string]string{}
				for k, val := range tc.env {
					envVars[k] = val
				}
				o := run(t, tc.command, tc.stdin, envVars)
				o.wantCode(t, tc.code, tc.msg)
				if len(e.agent.Requests()) != 0 {
					t.Fatal("bad input reached the agent")
				}
			})
		}
	}
}

func TestTeardownVerbsTolerateConfigSkew(t *testing.T) {
	// A conflist written for a newer binary: DEL, GC and STATUS still work (and log the key); ADD
	// reports it. A socket path that is a directory (a hostPath mount's leftover) makes DEL queue.
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t)
			skewed := e.stdin(v, map[string]any{"future-key": true})
			run(t, "DEL", skewed, map[string]string{}).wantCode(t, 0, "")
			if v >= "1.1.0" {
				run(t, "GC", skewed, map[string]string{}).wantCode(t, 0, "")
				run(t, "STATUS", skewed, map[string]string{}).wantCode(t, 0, "")
			}
			run(t, "ADD", skewed, map[string]string{}).wantCode(t, types.ErrInvalidNetworkConfig, "future-key")
			log, _ := os.ReadFile(filepath.Join(e.dir, "cilium-chain.log"))
			if !strings.Contains(string(log), "ignoring unknown configuration key") {
				t.Fatalf("unknown key not logged:\n%s", log)
			}

			dir := filepath.Join(e.dir, "sock-dir")
			_ = os.Mkdir(dir, 0o755)
			run(t, "DEL", e.stdin(v, map[string]any{"socket-path": dir}), map[string]string{}).wantCode(t, 0, "")
			if q, _ := filepath.Glob(filepath.Join(e.dir, "deleteQueue", "*.delete")); len(q) != 1 {
				t.Fatalf("DEL with a directory as socket must queue: %v", q)
			}
		})
	}
}

func TestUnsupportedVersion(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{"0.1.0", "0.2.0", "9.9.9"} {
		run(t, "ADD", e.stdin(v, nil), map[string]string{}).wantCode(t, types.ErrIncompatibleCNIVersion, "")
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	run(t, "STATUS", e.stdin("1.1.0", nil), map[string]string{}).wantCode(t, 0, "")
	e.agent.SetHealth("Failure")
	run(t, "STATUS", e.stdin("1.1.0", nil), map[string]string{}).wantCode(t, CodePluginNotAvailable, "Failure")
	e.agent.Down()
	run(t, "STATUS", e.stdin("1.1.0", nil), map[string]string{}).wantCode(t, CodePluginNotAvailable, e.agent.Socket())
}

func TestDelAgentDownQueuesAndLogs(t *testing.T) {
	e := newEnv(t)
	e.agent.Down()
	start := time.Now()
	o := run(t, "DEL", e.stdin("0.3.1", nil), map[string]string{"CNI_NETNS": "<unset>"})
	o.wantCode(t, 0, "")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("DEL with the agent down took %v", d)
	}
	if o.stdout != "" {
		t.Fatalf("DEL printed %q: stdout belongs to the result, DEL has none", o.stdout)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "deleteQueue", "*.delete"))
	if len(files) != 1 {
		t.Fatalf("queue: %v", files)
	}
	fi, err := os.Stat(filepath.Join(e.dir, "cilium-chain.log"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log file: %v %v", fi, err)
	}
	log, _ := os.ReadFile(filepath.Join(e.dir, "cilium-chain.log"))
	for _, want := range []string{"event=", "containerID=cid1", "ifname=eth0", "queued"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.TrimSpace(o.stderr) != "" {
		t.Errorf("with a log file, stderr stays quiet: %q", o.stderr)
	}
}

func TestLogFileUnwritableFallsBackToStderr(t *testing.T) {
	e := newEnv(t)
	blocker := filepath.Join(e.dir, "file")
	_ = os.WriteFile(blocker, nil, 0o600)
	o := run(t, "DEL", e.stdin("1.0.0", map[string]any{"log-file": blocker + "/sub/log"}), map[string]string{})
	o.wantCode(t, 0, "") // logging never fails a call
	if !strings.Contains(o.stderr, "log-file") {
		t.Fatalf("no stderr fallback notice: %q", o.stderr)
	}
}

func flannelPrev(t *testing.T, v string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "prevresult", "flannel-"+v+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func TestVersionStamp(t *testing.T) {
	// make build stamps the version with -X main.Version=…; VERSION's about text and --version show it.
	bin := filepath.Join(t.TempDir(), "cilium-chain")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.Version=v9.8.7-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "cilium-chain v9.8.7-test" {
		t.Fatalf("--version: %q %v", out, err)
	}
	// skel prints the about text on stderr when CNI_COMMAND is unset.
	cmd := exec.Command(bin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if !strings.Contains(stderr.String(), "v9.8.7-test") {
		t.Fatalf("about text %q lacks the version", stderr.String())
	}
}

func TestLogFileRotation(t *testing.T) {
	e := newEnv(t)
	logPath := filepath.Join(e.dir, "cilium-chain.log")
	stdin := e.stdin("1.0.0", map[string]any{"log-max-size": 1, "log-max-backups": 2})
	full := strings.Repeat("x", 1<<20) + "\n"
	for round := 1; round <= 4; round++ {
		if err := os.WriteFile(logPath, []byte(full), 0o600); err != nil { // the log reached its bound
			t.Fatal(err)
		}
		run(t, "DEL", stdin, map[string]string{}).wantCode(t, 0, "")
		cur, _ := os.ReadFile(logPath)
		if len(cur) >= 1<<20 || !strings.Contains(string(cur), "cmd=DEL") {
			t.Fatalf("round %d: log not rotated (%d bytes)", round, len(cur))
		}
	}
	backups, _ := filepath.Glob(logPath + ".*[0-9]")
	if len(backups) != 2 {
		t.Fatalf("backups %v, want log-max-backups=2", backups)
	}
	for _, b := range backups {
		if fi, err := os.Stat(b); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("backup %s: %v %v", b, fi, err)
		}
	}
}
