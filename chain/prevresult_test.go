package chain

import (
	"encoding/json"
	"testing"
)

func loadWithPrev(t *testing.T, v string, prev any) *Config {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"cniVersion": v, "name": "net", "type": "cilium-chain", "prevResult": prev})
	conf, err := LoadConfig(b, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

func TestPodAttachmentEveryVersion(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			res, err := prevResult(loadWithPrev(t, v, prevResultFixture(t, v)))
			wantKind(t, err, nil, "")
			att, err := podAttachment(res, "eth0")
			wantKind(t, err, nil, "")
			v4, v6 := att.addressPair()
			if v4 != "10.244.1.5" || v6 != "fd00:244::5" || len(att.IPs) != 2 {
				t.Fatalf("addresses: v4=%q v6=%q all=%v (link-local must be skipped)", v4, v6, att.IPs)
			}
			if att.Index != 2 || att.Iface.Mac != "0a:58:0a:f4:01:05" {
				t.Fatalf("interface: %d %+v", att.Index, att.Iface)
			}
			if len(att.HostIfaces) != 2 || att.HostIfaces[1] != "veth1234abcd" {
				t.Fatalf("host interfaces: %v", att.HostIfaces)
			}
		})
	}
}

func TestPodAttachmentPicksNamedInterface(t *testing.T) {
	// Multus-style: two sandbox veths; the one named CNI_IFNAME is ours, not the first.
	prev := map[string]any{
		"cniVersion": "1.0.0",
		"interfaces": []any{
			map[string]any{"name": "vethA"}, map[string]any{"name": "eth0", "sandbox": "/ns"},
			map[string]any{"name": "vethB"}, map[string]any{"name": "net1", "sandbox": "/ns"},
		},
		"ips": []any{
			map[string]any{"address": "10.1.0.2/24", "interface": 1},
			map[string]any{"address": "10.2.0.2/24", "interface": 3},
		},
	}
	res, err := prevResult(loadWithPrev(t, "1.0.0", prev))
	wantKind(t, err, nil, "")
	att, err := podAttachment(res, "net1")
	wantKind(t, err, nil, "")
	if att.Index != 3 || len(att.IPs) != 1 || att.IPs[0].IP.String() != "10.2.0.2" {
		t.Fatalf("picked %+v %v", att.Iface, att.IPs)
	}
}

func TestPodAttachmentUnboundIPSingleSandbox(t *testing.T) {
	prev := map[string]any{"cniVersion": "1.0.0",
		"interfaces": []any{map[string]any{"name": "eth0", "sandbox": "/ns"}},
		"ips":        []any{map[string]any{"address": "10.1.0.2/24"}}}
	res, _ := prevResult(loadWithPrev(t, "1.0.0", prev))
	att, err := podAttachment(res, "eth0")
	wantKind(t, err, nil, "")
	if len(att.IPs) != 1 {
		t.Fatalf("unbound IP of the only sandbox interface not taken: %v", att.IPs)
	}
}

func TestPrevResultRejects(t *testing.T) {
	noSandbox := map[string]any{"cniVersion": "1.0.0", "interfaces": []any{map[string]any{"name": "eth0"}},
		"ips": []any{map[string]any{"address": "10.1.0.2/24", "interface": 0}}}
	onlyLinkLocal := map[string]any{"cniVersion": "1.0.0", "interfaces": []any{map[string]any{"name": "eth0", "sandbox": "/ns"}},
		"ips": []any{map[string]any{"address": "fe80::1/64", "interface": 0}}}
	cases := []struct {
		name string
		prev any
		kind error
		msg  string
	}{
		{"missing prevResult", nil, ErrInvalidConfig, "no prevResult"},
		{"garbage prevResult", map[string]any{"cniVersion": "1.0.0", "ips": "nope"}, ErrInvalidConfig, "prevResult"},
		{"no sandbox interface", noSandbox, ErrInterfaceMismatch, `"eth0" with a sandbox`},
		{"only link-local", onlyLinkLocal, ErrInterfaceMismatch, "no address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := loadWithPrev(t, "1.0.0", tc.prev)
			res, err := prevResult(conf)
			if err == nil {
				_, err = podAttachment(res, "eth0")
			}
			wantKind(t, err, tc.kind, tc.msg)
		})
	}
}

// A 0.3.x/0.4.0 prevResult may omit cniVersion; libcni's rule gives it the conf's.
func TestPrevResultWithoutVersionTakesTheConfs(t *testing.T) {
	for _, v := range []string{"0.3.1", "0.4.0"} {
		t.Run(v, func(t *testing.T) {
			prev := map[string]any{
				"interfaces": []any{map[string]any{"name": "eth0", "sandbox": "/ns"}},
				"ips":        []any{map[string]any{"version": "4", "address": "10.1.0.2/24", "interface": 0}},
			}
			res, err := prevResult(loadWithPrev(t, v, prev))
			wantKind(t, err, nil, "")
			if _, err := podAttachment(res, "eth0"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
