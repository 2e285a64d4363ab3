package chain

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigDefaults(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			conf, err := LoadConfig([]byte(`{"cniVersion":"`+v+`","name":"net","type":"cilium-chain"}`), func(string) string { return "" })
			wantKind(t, err, nil, "")
			if conf.CNIVersion != v || conf.SocketPath != "/var/run/cilium/cilium.sock" || conf.DeleteQueueDir != "/var/run/cilium/deleteQueue" ||
				conf.StateDir != "/var/run/cilium-chain" || conf.AddTimeout.Duration != 60*time.Second || conf.DelTimeout.Duration != 10*time.Second ||
				conf.GCTimeout.Duration != 10*time.Second || conf.LabelSource != "container" || conf.LogLevel != "info" || conf.ChainingMode != "generic-veth" {
				t.Fatalf("defaults not applied: %+v", conf)
			}
		})
	}
}

func TestLoadConfigUpstreamEntry(t *testing.T) {
	// Every upstream v1.20.2 entry (plugins/cilium-cni/types NetConf, chaining/{awscni,azure,flannel,
	// generic-veth}) must load with only "type" changed, strictly (as ADD loads it).
	for _, v := range cniVersions {
		for _, mode := range []string{"generic-veth", "aws-cni", "azure", "flannel"} {
			t.Run(v+"/"+mode, func(t *testing.T) {
				stdin := `{"cniVersion":"` + v + `","name":"` + mode + `","type":"cilium-chain","chaining-mode":"` + mode + `",
					"enable-debug":true,"log-file":"/var/run/cilium/cilium-cni.log","log-format":"json","mtu":9001,
					"enable-route-mtu":true,"eni":{"first-interface-index":1},"azure":{"interface-name":"eth0"},
					"alibaba-cloud":{"vpc-id":"v"}}`
				conf, err := LoadConfig([]byte(stdin), func(string) string { return "" })
				wantKind(t, err, nil, "")
				if conf.LogLevel != "debug" || conf.LogFile != "/var/run/cilium/cilium-cni.log" || conf.LogFormat != "json" || !conf.EnableRouteMTU {
					t.Fatalf("upstream keys not honoured: %+v", conf)
				}
				if len(conf.Ignored) != 4 || !strings.HasPrefix(conf.Ignored[0], "alibaba-cloud: ") {
					t.Fatalf("ignored keys %q, want alibaba-cloud, azure, eni, mtu with reasons", conf.Ignored)
				}
			})
		}
	}
}

func TestLoadConfigSkew(t *testing.T) {
	// A newer conflist (or a runtime-injected cni.dev/ key) read by this binary: DEL, GC and STATUS
	// load it and report the keys; ADD names the first unknown key.
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			stdin := []byte(`{"cniVersion":"` + v + `","name":"n","type":"cilium-chain","future-key":1,"cni.dev/new-thing":{}}`)
			conf, err := LoadConfigLenient(stdin, func(string) string { return "" })
			wantKind(t, err, nil, "")
			if !reflect.DeepEqual(conf.Unknown, []string{"cni.dev/new-thing", "future-key"}) {
				t.Fatalf("unknown keys %q", conf.Unknown)
			}
			_, err = LoadConfig(stdin, func(string) string { return "" })
			wantKind(t, err, ErrInvalidConfig, `"cni.dev/new-thing"`)
			// Lenient is about keys only: a known key's bad value is still an error.
			_, err = LoadConfigLenient([]byte(`{"cniVersion":"`+v+`","name":"n","type":"cilium-chain","del-timeout":"soon"}`), func(string) string { return "" })
			wantKind(t, err, ErrInvalidConfig, `"del-timeout"`)
		})
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
	if conf.AddTimeout.Duration != 90*time.Second || conf.DelTimeout.Duration != 1500*time.Millisecond || conf.CheckTimeout.Duration != 3*time.Second {
		t.Fatalf("timeouts: %+v", conf)
	}
}

func TestLoadConfigRejects(t *testing.T) {
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
		{"socket wrong type", `{` + base + `,"socket-path":42}`, ErrInvalidConfig, ""},
		{"relative queue dir", `{` + base + `,"delete-queue-dir":"q"}`, ErrInvalidConfig, `"delete-queue-dir"`},
		{"relative state dir", `{` + base + `,"state-dir":"s"}`, ErrInvalidConfig, `"state-dir"`},
		{"bad log level", `{` + base + `,"log-level":"loud"}`, ErrInvalidConfig, `"log-level"`},
		{"bad log format", `{` + base + `,"log-format":"xml"}`, ErrInvalidConfig, `"log-format"`},
		{"other chaining mode", `{` + base + `,"chaining-mode":"cilium"}`, ErrInvalidConfig, `"chaining-mode"`},
		{"reserved label source", `{` + base + `,"label-source":"reserved"}`, ErrInvalidConfig, `"label-source"`},
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
