package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDeriveConflist(t *testing.T) {
	entry := json.RawMessage(`{"type":"cilium-chain"}`)
	tests := []struct {
		name    string
		primary string
		lift    bool
		want    string // a substring of the compacted output
		wantErr string
	}{
		{name: "appends after the last plugin", primary: flannelPrimary,
			want: `{"type":"portmap","capabilities":{"portMappings":true}},{"type":"cilium-chain"}]`},
		{name: "unknown top-level and plugin fields survive", primary: `{"cniVersion":"1.0.0","name":"n","x-vendor":{"a":[1,2.50,"é"]},"plugins":[{"type":"bridge","weird":{"deep":[null,true]},"big":12345678901234567890}]}`,
			want: `"x-vendor":{"a":[1,2.50,"é"]},"plugins":[{"type":"bridge","weird":{"deep":[null,true]},"big":12345678901234567890},{"type":"cilium-chain"}]`},
		{name: "cilium-cni replaced in place", primary: `{"cniVersion":"0.4.0","name":"n","plugins":[{"type":"ptp"},{"type":"cilium-cni"},{"type":"portmap"}]}`,
			want: `[{"type":"ptp"},{"type":"cilium-chain"},{"type":"portmap"}]`},
		{name: "duplicates of ours dropped", primary: `{"cniVersion":"0.4.0","name":"n","plugins":[{"type":"ptp"},{"type":"cilium-chain","old":1},{"type":"cilium-chain"},{"type":"cilium-cni"}]}`,
			want: `[{"type":"ptp"},{"type":"cilium-chain"}]`},
		{name: "ours first moves to the end", primary: `{"cniVersion":"0.4.0","name":"n","plugins":[{"type":"cilium-cni"},{"type":"portmap"}]}`,
			want: `[{"type":"portmap"},{"type":"cilium-chain"}]`},
		{name: "conf lifted keeping name and version", primary: `{"cniVersion":"0.3.1","name":"cbr0","type":"flannel"}`, lift: true,
			want: `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"cniVersion":"0.3.1","name":"cbr0","type":"flannel"},{"type":"cilium-chain"}]}`},
		{name: "cniVersions picks the highest known", primary: `{"cniVersions":["0.3.1","9.9.9"],"name":"n","plugins":[{"type":"ptp"}]}`,
			want: `"cniVersions":["0.3.1","9.9.9"]`},
		{name: "duplicate keys: last value wins like libcni", primary: `{"cniVersion":"0.2.0","name":"a","name":"b","cniVersion":"1.0.0","plugins":[{"type":"ptp"}]}`,
			want: `{"cniVersion":"1.0.0","name":"b",`},
		{name: "old version cannot chain", primary: `{"cniVersion":"0.2.0","name":"n","plugins":[{"type":"ptp"}]}`, wantErr: `cniVersion "0.2.0" cannot be chained`},
		{name: "unknown version", primary: `{"cniVersion":"2.0.0","name":"n","plugins":[{"type":"ptp"}]}`, wantErr: "cannot be chained"},
		{name: "no name", primary: `{"cniVersion":"1.0.0","plugins":[{"type":"ptp"}]}`, wantErr: "no name"},
		{name: "empty name", primary: `{"cniVersion":"1.0.0","name":"","plugins":[{"type":"ptp"}]}`, wantErr: "empty name"},
		{name: "plugin without type", primary: `{"cniVersion":"1.0.0","name":"n","plugins":[{"bridge":"x"}]}`, wantErr: "missing 'type'"},
		{name: "empty plugins", primary: `{"cniVersion":"1.0.0","name":"n","plugins":[]}`, wantErr: "no plugins"},
		{name: "no plugins key", primary: `{"cniVersion":"1.0.0","name":"n"}`, wantErr: `needs a "plugins" list`},
		{name: "only cilium", primary: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"cilium-cni"}]}`, wantErr: "nothing to chain onto"},
		{name: "conf without type", primary: `{"cniVersion":"1.0.0","name":"n"}`, lift: true, wantErr: "missing 'type'"},
		{name: "not an object", primary: `[1,2]`, wantErr: "not a JSON object"},
		{name: "truncated", primary: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"p`, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := deriveConflist([]byte(tt.primary), tt.lift, entry)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q (output %s)", err, tt.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(compact.String(), tt.want) {
				t.Errorf("output %s\ndoes not contain %s", compact.String(), tt.want)
			}
			if !strings.HasSuffix(string(out), "}\n") {
				t.Errorf("output does not end in a newline")
			}
		})
	}
}

func TestValidateCustom(t *testing.T) {
	tests := []struct {
		name, conflist, wantErr string
	}{
		{name: "valid", conflist: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"ptp"},{"type":"cilium-chain"}]}`},
		{name: "missing entry", conflist: flannelPrimary, wantErr: `no "cilium-chain" entry`},
		{name: "two entries", conflist: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"ptp"},{"type":"cilium-chain"},{"type":"cilium-chain"}]}`, wantErr: "more than one"},
		{name: "entry first", conflist: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"cilium-chain"},{"type":"ptp"}]}`, wantErr: "first plugin"},
		{name: "unknown version", conflist: `{"cniVersion":"7.0.0","name":"n","plugins":[{"type":"ptp"},{"type":"cilium-chain"}]}`, wantErr: "cannot be chained"},
		{name: "unknown plugin version", conflist: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"ptp","cniVersion":"3.0.0"},{"type":"cilium-chain"}]}`, wantErr: "unknown cniVersion"},
		{name: "not json", conflist: `{"cniVersion":`, wantErr: "error parsing"},
		{name: "no plugins", conflist: `{"cniVersion":"1.0.0","name":"n"}`, wantErr: "no inline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateCustom([]byte(tt.conflist))
			wantErrContaining(t, err, tt.wantErr)
		})
	}
}

func TestObjectKeepsOrderAndRawValues(t *testing.T) {
	in := `{"z":1,"a":{"y":2,"b":[3]},"m":"<&>","z":4}`
	o := newObject()
	if err := json.Unmarshal([]byte(in), o); err != nil {
		t.Fatal(err)
	}
	got, err := marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z":4,"a":{"y":2,"b":[3]},"m":"<&>"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a":}`, `{"a":1}x`} {
		if err := json.Unmarshal([]byte(bad), newObject()); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
