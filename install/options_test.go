package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseConfigEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"CILIUM_CHAIN_CONF_DIR":         "/env/net.d",
		"CILIUM_CHAIN_KEEP_ON_EXIT":     "true",
		"CILIUM_CHAIN_DEBOUNCE":         "1s",
		"CILIUM_CHAIN_PLUGIN_LOG_LEVEL": "debug",
		"CILIUM_CHAIN_PRIMARY_NETWORK":  "", // empty counts as unset
		"CILIUM_CHAIN_BIN_DIR":          "", // and so keeps the default
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := parseConfig([]string{"--conf-dir=/flag/net.d", "--fight-threshold", "3"}, lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"flag beats env", cfg.confDir, "/flag/net.d"},
		{"env bool", cfg.keepOnExit, true},
		{"env duration", cfg.debounce, time.Second},
		{"env plugin option", cfg.plugin.logLevel, "debug"},
		{"empty env keeps default", cfg.binDir, "/host/opt/cni/bin"},
		{"flag int", cfg.fightThreshold, 3},
		{"default mode", cfg.mode, modeDerived},
		{"default conf name", cfg.confName, "05-cilium.conflist"},
		{"default ready addr", cfg.readyAddr, "127.0.0.1:9887"},
		{"keeps the conflist on exit unless told", mustConfig(t, nil).keepOnExit, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "bad mode", args: []string{"--mode=exclusive"}, wantErr: "--mode must be"},
		{name: "conf name not conflist", args: []string{"--conf-name=05-cilium.conf"}, wantErr: "--conf-name"},
		{name: "conf name with dir", args: []string{"--conf-name=x/05.conflist"}, wantErr: "--conf-name"},
		{name: "binary name with dir", args: []string{"--binary-name=../x"}, wantErr: "--binary-name"},
		{name: "bad env bool", env: map[string]string{"CILIUM_CHAIN_KEEP_ON_EXIT": "maybe"}, wantErr: "CILIUM_CHAIN_KEEP_ON_EXIT"},
		{name: "zero debounce", args: []string{"--debounce=0s"}, wantErr: "--debounce must be positive"},
		{name: "zero threshold", args: []string{"--fight-threshold=0"}, wantErr: "--fight-threshold"},
		{name: "keep conflist but remove binary", args: []string{"--uninstall-binary"}, wantErr: "--keep-on-exit=false"},
		{name: "bad rename policy", args: []string{"--custom-name-mismatch=maybe"}, wantErr: "--custom-name-mismatch"},
		{name: "unknown runtime", args: []string{"--container-runtime=docker"}, wantErr: "--container-runtime"},
		{name: "stray argument", args: []string{"install"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			_, err := parseConfig(tt.args, lookup, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestHelpListsEveryFlagWithItsEnv keeps --help complete: every flag, its variable and its default.
func TestHelpListsEveryFlagWithItsEnv(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, noEnv, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	f := newFlags(&config{})
	if len(f.docs) < 25 {
		t.Fatalf("only %d flags documented", len(f.docs))
	}
	f.fs.VisitAll(func(fl *flag.Flag) {
		if !strings.Contains(help, "--"+fl.Name+"  ("+envName(fl.Name)+", default ") {
			t.Errorf("--help does not document --%s with %s", fl.Name, envName(fl.Name))
		}
	})
	for _, s := range []string{"derived mode", "custom mode", "SIGTERM"} {
		if !strings.Contains(help, s) {
			t.Errorf("--help does not explain %q", s)
		}
	}
}

func TestPluginEntry(t *testing.T) {
	tests := []struct {
		name    string
		flags   pluginFlags
		want    string
		wantErr string
	}{
		{name: "defaults omitted", want: `{"type":"cilium-chain"}`},
		{name: "all options", flags: pluginFlags{socketPath: "/s.sock", logFile: "/l", logLevel: "debug",
			labels: "k8s:app=web, reserved:host", argsLabels: "K8S_POD_NAME=k8s:pod,K8S_POD_NAMESPACE=k8s:ns",
			extraJSON: `{"mtu":1450}`},
			want: `{"type":"cilium-chain","socket-path":"/s.sock","log-file":"/l","log-level":"debug","labels":["k8s:app=web","reserved:host"],"args-labels":{"K8S_POD_NAME":"k8s:pod","K8S_POD_NAMESPACE":"k8s:ns"},"mtu":1450}`},
		{name: "json forms", flags: pluginFlags{labels: `["k8s:a=b"]`, argsLabels: `{"B":"k8s:b","A":"k8s:a"}`},
			want: `{"type":"cilium-chain","labels":["k8s:a=b"],"args-labels":{"A":"k8s:a","B":"k8s:b"}}`},
		{name: "empty label", flags: pluginFlags{labels: "k8s:a=b,,c"}, wantErr: "empty label"},
		{name: "args label without =", flags: pluginFlags{argsLabels: "K8S_POD_NAME"}, wantErr: "NAME=label-key"},
		{name: "args label empty key", flags: pluginFlags{argsLabels: "K8S_POD_NAME="}, wantErr: "empty"},
		{name: "extra sets type", flags: pluginFlags{extraJSON: `{"type":"other"}`}, wantErr: `"type" is already set`},
		{name: "extra overrides a flag", flags: pluginFlags{logLevel: "info", extraJSON: `{"log-level":"debug"}`}, wantErr: "already set"},
		{name: "extra not an object", flags: pluginFlags{extraJSON: `[1]`}, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pluginEntry(tt.flags)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestPluginOptionsCheckedByThePlugin: values the plugin's own parser refuses stop the installer at
// start (exit 2) instead of producing a conflist on which every pod ADD would fail.
func TestPluginOptionsCheckedByThePlugin(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		wantErr string // "" = accepted
	}{
		{name: "label without source", flag: "--plugin-labels=app=web"},
		{name: "all options", flag: `--plugin-extra-json={"add-timeout":"30s","mtu":1400,"label-source":"k8s"}`},
		{name: "reserved label", flag: "--plugin-labels=reserved:host", wantErr: "reserved"},
		{name: "unknown key", flag: `--plugin-extra-json={"no-such-option":1}`, wantErr: `unknown key "no-such-option"`},
		{name: "bad log level", flag: "--plugin-log-level=loud", wantErr: "log-level"},
		{name: "relative socket", flag: "--plugin-socket-path=cilium.sock", wantErr: "absolute path"},
		{name: "bad timeout", flag: `--plugin-extra-json={"add-timeout":"forever"}`, wantErr: "add-timeout"},
		{name: "bad args-labels name", flag: "--plugin-args-labels=K8S POD=k8s:x", wantErr: "args-labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newInstaller(mustConfig(t, []string{tt.flag}), quietLogger())
			wantErrContaining(t, err, tt.wantErr)
		})
	}
}

// TestReadmeDocumentsEveryFlag keeps install/README.md's option table complete.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	f := newFlags(&config{})
	f.fs.VisitAll(func(fl *flag.Flag) {
		row := fmt.Sprintf("| `--%s` | `%s` | ", fl.Name, envName(fl.Name))
		if fl.DefValue != "" {
			row += "`" + fl.DefValue + "`"
		}
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no table row for --%s (%s) with its default %q", fl.Name, envName(fl.Name), fl.DefValue)
		}
	})
}
