package chain

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadConfigDefaults(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			conf, err := LoadConfig([]byte(`{"cniVersion":"`+v+`","name":"net","type":"cilium-chain"}`), func(string) string { return "" })
			wantKind(t, err, nil, "")
			if conf.CNIVersion != v || conf.SocketPath != DefaultSocketPath || conf.DeleteQueueDir != DefaultDeleteQueueDir ||
				conf.StateDir != DefaultStateDir || conf.AddTimeout != DefaultAddTimeout || conf.DelTimeout != DefaultDelTimeout ||
				conf.LabelSource != DefaultLabelSource || conf.LogLevel != "info" {
				t.Fatalf("defaults not applied: %+v", conf)
			}
		})
	}
}

func TestLoadConfigUpstreamEntry(t *testing.T) {
	// An upstream cilium-cni entry with only "type" changed must load.
	stdin := `{"cniVersion":"0.3.1","name":"generic-veth","type":"cilium-chain","chaining-mode":"generic-veth",
		"enable-debug":true,"log-file":"/var/run/cilium/cilium-cni.log","log-format":"json","mtu":1450}`
	conf, err := LoadConfig([]byte(stdin), func(string) string { return "" })
	wantKind(t, err, nil, "")
	if conf.LogLevel != "debug" || conf.LogFile != "/var/run/cilium/cilium-cni.log" || conf.LogFormat != "json" {
		t.Fatalf("upstream keys not honoured: %+v", conf)
	}
}

func TestLoadConfigSocketFromEnv(t *testing.T) {
	env := func(k string) string {
		if k == "CILIUM_SOCK" {
			return "/run/x/cilium.sock"
		}
		return ""
	}
	conf, err := LoadConfig([]byte(`{"cniVersion":"1.0.0","name":"n","type":"cilium-chain"}`), env)
	wantKind(t, err, nil, "")
	if conf.SocketPath != "/run/x/cilium.sock" {
		t.Fatalf("CILIUM_SOCK ignored: %q", conf.SocketPath)
	}
	conf, err = LoadConfig([]byte(`{"cniVersion":"1.0.0","name":"n","type":"cilium-chain","socket-path":"/a/b.sock"}`), env)
	wantKind(t, err, nil, "")
	if conf.SocketPath != "/a/b.sock" {
		t.Fatalf("socket-path should win over CILIUM_SOCK: %q", conf.SocketPath)
	}
}

func TestLoadConfigTimeouts(t *testing.T) {
	conf, err := LoadConfig([]byte(`{"cniVersion":"1.0.0","name":"n","type":"cilium-chain","add-timeout":"90s","del-timeout":"1500ms","check-timeout":"3s"}`), func(string) string { return "" })
	wantKind(t, err, nil, "")
	if conf.AddTimeout != 90*time.Second || conf.DelTimeout != 1500*time.Millisecond || conf.CheckTimeout != 3*time.Second {
		t.Fatalf("timeouts: %+v", conf)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := `"cniVersion":"1.0.0","name":"net","type":"cilium-chain"`
	cases := []struct {
		name, stdin string
		kind        error
		mention     string
	}{
		{"empty stdin", ``, ErrDecode, "empty"},
		{"malformed json", `{"cniVersion":`, ErrDecode, ""},
		{"not an object", `[1,2]`, ErrDecode, ""},
		{"unknown key", `{` + base + `,"sockett-path":"/x"}`, ErrInvalidConfig, `"sockett-path"`},
		{"missing name", `{"cniVersion":"1.0.0","type":"cilium-chain"}`, ErrInvalidConfig, `"name"`},
		{"bad name", `{"cniVersion":"1.0.0","name":"../x","type":"cilium-chain"}`, ErrInvalidConfig, `"name"`},
		{"relative socket", `{` + base + `,"socket-path":"cilium.sock"}`, ErrInvalidConfig, `"socket-path"`},
		{"socket not a socket", `{` + base + `,"socket-path":"` + notSocket + `"}`, ErrInvalidConfig, "not a unix socket"},
		{"socket wrong type", `{` + base + `,"socket-path":42}`, ErrInvalidConfig, ""},
		{"relative queue dir", `{` + base + `,"delete-queue-dir":"q"}`, ErrInvalidConfig, `"delete-queue-dir"`},
		{"relative state dir", `{` + base + `,"state-dir":"s"}`, ErrInvalidConfig, `"state-dir"`},
		{"bad log level", `{` + base + `,"log-level":"loud"}`, ErrInvalidConfig, `"log-level"`},
		{"bad log format", `{` + base + `,"log-format":"xml"}`, ErrInvalidConfig, `"log-format"`},
		{"other chaining mode", `{` + base + `,"chaining-mode":"aws-cni"}`, ErrInvalidConfig, `"chaining-mode"`},
		{"bad timeout", `{` + base + `,"add-timeout":"soon"}`, ErrInvalidConfig, `"add-timeout"`},
		{"negative timeout", `{` + base + `,"del-timeout":"-1s"}`, ErrInvalidConfig, `"del-timeout"`},
		{"huge timeout", `{` + base + `,"check-timeout":"1h"}`, ErrInvalidConfig, `"check-timeout"`},
		{"bad label", `{` + base + `,"labels":["k8s:=x"]}`, ErrInvalidConfig, `"labels"`},
		{"reserved label", `{` + base + `,"labels":["reserved:host"]}`, ErrInvalidConfig, "reserved"},
		{"label with space", `{` + base + `,"labels":["app=a b"]}`, ErrInvalidConfig, `"labels"`},
		{"labels not a list", `{` + base + `,"labels":"app=x"}`, ErrInvalidConfig, ""},
		{"bad args-labels name", `{` + base + `,"args-labels":{"A=B":"k8s:x"}}`, ErrInvalidConfig, `"args-labels"`},
		{"bad args-labels key", `{` + base + `,"args-labels":{"K8S_POD_NAMESPACE":"reserved:x"}}`, ErrInvalidConfig, `"args-labels"`},
		{"bad label source", `{` + base + `,"label-source":"a:b"}`, ErrInvalidConfig, `"label-source"`},
		{"negative mtu", `{` + base + `,"mtu":-1}`, ErrInvalidConfig, `"mtu"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig([]byte(tc.stdin), func(string) string { return "" })
			wantKind(t, err, tc.kind, tc.mention)
		})
	}
}

func TestLoadConfigSocketIsSocket(t *testing.T) {
	dir, _ := os.MkdirTemp("", "cc-")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = LoadConfig([]byte(`{"cniVersion":"1.0.0","name":"n","type":"cilium-chain","socket-path":"`+sock+`"}`), func(string) string { return "" })
	wantKind(t, err, nil, "")
}
