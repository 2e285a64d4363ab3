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
		dropped []string
		kind    error
	}{
		{name: "none", conf: Config{LabelSource: "container"}, want: []string{}},
		{
			name: "conflist labels, with and without source",
			conf: Config{LabelSource: "container", Labels: []string{"k8s:io.kubernetes.pod.namespace=default", "team=blue", "k8s:flag"}},
			want: []string{"container:team=blue", "k8s:flag=", "k8s:io.kubernetes.pod.namespace=default"},
		},
		{
			name:    "CILIUM_LABEL_ off by default",
			conf:    Config{LabelSource: "container"},
			cniArgs: "IgnoreUnknown=1;CILIUM_LABEL_app=db",
			want:    []string{}, dropped: []string{"CILIUM_LABEL_app"},
		},
		{
			name:    "label-args allows listed keys only",
			conf:    Config{LabelSource: "nomad", LabelArgs: []string{"tier"}},
			cniArgs: "IgnoreUnknown=1;CILIUM_LABEL_app=db;CILIUM_LABEL_tier=web",
			want:    []string{"nomad:tier=web"}, dropped: []string{"CILIUM_LABEL_app"},
		},
		{
			name:    "label-args * allows any key, under label-source",
			conf:    Config{LabelSource: "nomad", LabelArgs: []string{"*"}},
			cniArgs: "IgnoreUnknown=1;CILIUM_LABEL_app=test;CILIUM_LABEL_tier=web",
			want:    []string{"nomad:app=test", "nomad:tier=web"},
		},
		{
			name:    "never the k8s source from CILIUM_LABEL_",
			conf:    Config{LabelSource: "k8s", LabelArgs: []string{"*"}},
			cniArgs: "CILIUM_LABEL_io.kubernetes.pod.namespace=kube-system",
			want:    []string{}, dropped: []string{"CILIUM_LABEL_io.kubernetes.pod.namespace"},
		},
		{
			name: "args-labels map orchestrator args, k8s: included (the operator's mapping)",
			conf: Config{LabelSource: "container", ArgsLabels: map[string]string{
				"K8S_POD_NAMESPACE": "k8s:io.kubernetes.pod.namespace", "NOMAD_JOB_ID": "nomad:job_id", "ABSENT": "x"}},
			cniArgs: "K8S_POD_NAMESPACE=prod;NOMAD_JOB_ID=web-7",
			want:    []string{"k8s:io.kubernetes.pod.namespace=prod", "nomad:job_id=web-7"},
		},
		{
			name:    "conflist labels win over CILIUM_LABEL_",
			conf:    Config{LabelSource: "container", LabelArgs: []string{"*"}, Labels: []string{"container:app=web"}},
			cniArgs: "CILIUM_LABEL_app=db",
			want:    []string{"container:app=web"},
		},
		{
			name: "conflist labels win over args-labels",
			conf: Config{LabelSource: "container", Labels: []string{"k8s:io.kubernetes.pod.namespace=tenant-a"},
				ArgsLabels: map[string]string{"NS": "k8s:io.kubernetes.pod.namespace"}},
			cniArgs: "NS=kube-system",
			want:    []string{"k8s:io.kubernetes.pod.namespace=tenant-a"},
		},
		{name: "source in CILIUM_LABEL_ key", conf: Config{LabelSource: "container", LabelArgs: []string{"*"}}, cniArgs: "CILIUM_LABEL_reserved:host=", kind: ErrInvalidEnv},
		{name: "empty label key", conf: Config{LabelSource: "container", LabelArgs: []string{"*"}}, cniArgs: "CILIUM_LABEL_=x", kind: ErrInvalidEnv},
		{name: "value with space", conf: Config{LabelSource: "container", LabelArgs: []string{"*"}}, cniArgs: "CILIUM_LABEL_app=a b", kind: ErrInvalidEnv},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args, err := parseCNIArgs(tc.cniArgs)
			if err != nil {
				t.Fatal(err)
			}
			got, dropped, err := endpointLabels(&tc.conf, args)
			wantKind(t, err, tc.kind, "")
			if tc.kind == nil && (!reflect.DeepEqual([]string(got), tc.want) || !reflect.DeepEqual(dropped, tc.dropped)) {
				t.Fatalf("labels = %q dropped %q, want %q dropped %q", got, dropped, tc.want, tc.dropped)
			}
		})
	}
}

func TestPodIdentityFromMappedArgs(t *testing.T) {
	// Outside Kubernetes (Nomad): the operator names the CNI_ARGS that carry the workload's name.
	args, err := parseCNIArgs("IgnoreUnknown=1;NOMAD_ALLOC_NAME=web.api[0];NOMAD_NAMESPACE=prod;K8S_POD_NAME=forged")
	wantKind(t, err, nil, "")
	args.withPodIdentity("NOMAD_ALLOC_NAME", "NOMAD_NAMESPACE")
	if args.PodName != "web.api[0]" || args.PodNamespace != "prod" {
		t.Fatalf("pod identity: %+v", args)
	}
	plain, _ := parseCNIArgs("K8S_POD_NAME=a;K8S_POD_NAMESPACE=b")
	plain.withPodIdentity("", "")
	if plain.PodName != "a" || plain.PodNamespace != "b" {
		t.Fatalf("without a mapping, K8S_POD_* stay: %+v", plain)
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
