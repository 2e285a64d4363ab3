package chain

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// kinds are the error kinds plugin/ maps to CNI codes: every rejection must carry one.
var kinds = []error{ErrDecode, ErrInvalidConfig, ErrInvalidEnv, ErrInterfaceMismatch}

func hasKind(err error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"0.3.1","name":"n","type":"cilium-chain"}`))
	f.Add([]byte(`{"cniVersion":"1.0.0","name":"n","type":"cilium-chain","labels":["k8s:a=b"],"args-labels":{"X":"y"},"add-timeout":"3s"}`))
	f.Add([]byte(`{"cniVersion":"1.1.0","name":"n","type":"cilium-chain","cni.dev/valid-attachments":[{"containerID":"c","ifname":"eth0"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, stdin []byte) {
		conf, err := LoadConfig(stdin, func(string) string { return "" })
		if err != nil {
			if !hasKind(err) {
				t.Fatalf("rejection without a kind: %v", err)
			}
			return
		}
		if conf.AddTimeout.Duration <= 0 || conf.DelTimeout.Duration <= 0 || conf.SocketPath == "" {
			t.Fatalf("accepted config with unusable values: %+v", conf)
		}
	})
}

func FuzzPrevResult(f *testing.F) {
	for _, v := range cniVersions {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "prevresult", "flannel-"+v+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v, b, "eth0")
	}
	f.Add("1.0.0", []byte(`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"x"}],"ips":[{"address":"10.0.0.1/8","interface":5}]}`), "eth0")
	f.Add("0.3.1", []byte(`{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.1/8","interface":-1}]}`), "eth0")
	f.Fuzz(func(t *testing.T, cniVersion string, prev []byte, ifname string) {
		if !json.Valid(prev) {
			return
		}
		stdin, _ := json.Marshal(map[string]any{"cniVersion": cniVersion, "name": "n", "type": "cilium-chain", "prevResult": json.RawMessage(prev)})
		conf, err := LoadConfig(stdin, func(string) string { return "" })
		if err != nil {
			return
		}
		res, err := prevResult(conf)
		if err == nil {
			var att *attachment
			if att, err = podAttachment(res, ifname); err == nil {
				if att.Iface == nil || att.Iface.Name != ifname || att.Iface.Sandbox == "" || len(att.IPs) == 0 {
					t.Fatalf("accepted attachment is not usable: %+v", att)
				}
				att.addressPair()
			}
		}
		if err != nil && !hasKind(err) {
			t.Fatalf("rejection without a kind: %v", err)
		}
	})
}

func FuzzCNIArgsLabels(f *testing.F) {
	f.Add("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a;CILIUM_LABEL_app=test", "k8s:x=y")
	f.Add("CILIUM_LABEL_a:b=c;;", "reserved:host")
	f.Add("A=b=c", "")
	f.Fuzz(func(t *testing.T, cniArgs, confLabel string) {
		conf := &Config{LabelSource: "container", Labels: []string{confLabel},
			ArgsLabels: map[string]string{"K8S_POD_NAMESPACE": "k8s:io.kubernetes.pod.namespace"}}
		args, err := parseCNIArgs(cniArgs)
		if err != nil {
			if !hasKind(err) {
				t.Fatalf("rejection without a kind: %v", err)
			}
			return
		}
		labels, _, err := endpointLabels(conf, args)
		if err != nil {
			if !hasKind(err) {
				t.Fatalf("rejection without a kind: %v", err)
			}
			return
		}
		for _, l := range labels {
			parsed, err := parseLabel(l, "x")
			if err != nil || parsed.Source == "reserved" {
				t.Fatalf("emitted label %q does not parse back cleanly: %v", l, err)
			}
		}
	})
}
