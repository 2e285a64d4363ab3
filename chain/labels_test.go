package chain

import (
	"reflect"
	"testing"
)

func TestEndpointLabels(t *testing.T) {
	cases := []struct {
		name    string
		conf    Config
		cniArgs string
		want    []string
		kind    error
	}{
		{name: "none", conf: Config{LabelSource: "container"}, want: []string{}},
		{
			name: "conflist labels, with and without source",
			conf: Config{LabelSource: "container", Labels: []string{"k8s:io.kubernetes.pod.namespace=default", "team=blue", "k8s:flag"}},
			want: []string{"container:team=blue", "k8s:flag=", "k8s:io.kubernetes.pod.namespace=default"},
		},
		{
			name:    "CILIUM_LABEL_ args use label-source",
			conf:    Config{LabelSource: "nomad"},
			cniArgs: "IgnoreUnknown=1;CILIUM_LABEL_app=test;CILIUM_LABEL_tier=web",
			want:    []string{"nomad:app=test", "nomad:tier=web"},
		},
		{
			name: "args-labels map orchestrator args",
			conf: Config{LabelSource: "container", ArgsLabels: map[string]string{
				"K8S_POD_NAMESPACE": "k8s:io.kubernetes.pod.namespace", "NOMAD_JOB_ID": "nomad:job_id", "ABSENT": "x"}},
			cniArgs: "K8S_POD_NAMESPACE=prod;NOMAD_JOB_ID=web-7",
			want:    []string{"k8s:io.kubernetes.pod.namespace=prod", "nomad:job_id=web-7"},
		},
		{
			name:    "CNI_ARGS override conflist for the same key",
			conf:    Config{LabelSource: "container", Labels: []string{"container:app=default"}},
			cniArgs: "CILIUM_LABEL_app=override",
			want:    []string{"container:app=override"},
		},
		{name: "source in CILIUM_LABEL_ key", conf: Config{LabelSource: "container"}, cniArgs: "CILIUM_LABEL_reserved:host=", kind: ErrInvalidEnv},
		{name: "empty label key", conf: Config{LabelSource: "container"}, cniArgs: "CILIUM_LABEL_=x", kind: ErrInvalidEnv},
		{name: "value with space", conf: Config{LabelSource: "container"}, cniArgs: "CILIUM_LABEL_app=a b", kind: ErrInvalidEnv},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args, err := parseCNIArgs(tc.cniArgs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := endpointLabels(&tc.conf, args)
			wantKind(t, err, tc.kind, "")
			if tc.kind == nil && !reflect.DeepEqual([]string(got), tc.want) {
				t.Fatalf("labels = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseCNIArgs(t *testing.T) {
	args, err := parseCNIArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;")
	wantKind(t, err, nil, "")
	if args.PodName != "web-0" || args.PodNamespace != "ns" || args.PodUID != "u-1" {
		t.Fatalf("pod args: %+v", args)
	}
	for _, bad := range []string{"novalue", "=x", "A=b=c"} {
		_, err := parseCNIArgs(bad)
		wantKind(t, err, ErrInvalidEnv, "CNI_ARGS")
	}
}
