//go:build cluster

package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// The control plane runs in node 1's netns (the cluster's own): etcd on loopback, kube-apiserver on
// node 1's address on the nodes' private link, where node 2's kubelet, flanneld and agent reach it
// (the seed's k8sServiceHost/Port). Default ports cannot clash with anything on the machine.
const (
	etcdURL      = "http://127.0.0.1:2379"
	apiServerIP  = nodeIP
	apiServerURL = "https://" + apiServerIP + ":6443"
	clusterCIDR  = "10.244.0.0/16"
	serviceCIDR  = "10.96.0.0/16"
)

// controlPlane is etcd, kube-apiserver, kube-controller-manager and kube-scheduler; kubeconfig holds
// an admin token (system:masters) every component and kubectl use.
type controlPlane struct {
	kubeconfig string
	kubectl    *kubectl
	procs      []*peer.Proc
}

// pids are the control plane's processes, which outlive the node's teardown.
func (cp *controlPlane) pids() []int {
	var out []int
	for _, p := range cp.procs {
		out = append(out, p.Pid())
	}
	return out
}

func startControlPlane(t *testing.T, e *env) *controlPlane {
	t.Helper()
	token := randomHex(t, 16)
	peer.WriteFile(t, e.path("etc", "tokens.csv"), token+",cluster-admin,cluster-admin,system:masters\n")
	saKey := e.path("etc", "sa.key")
	writeRSAKey(t, saKey)
	cp := &controlPlane{kubeconfig: e.path("etc", "admin.kubeconfig")}
	peer.WriteFile(t, cp.kubeconfig, kubeconfigYAML(token))
	cp.kubectl = &kubectl{kubeconfig: cp.kubeconfig}

	etcd := startProc(t, e, "etcd", 20*time.Second, nil, "etcd", "--name", "cluster", "--data-dir", e.path("etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "cluster=http://127.0.0.1:2380", "--listen-metrics-urls", "")
	api := startProc(t, e, "kube-apiserver", 30*time.Second, nil, e.bin("kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address="+apiServerIP, "--advertise-address="+apiServerIP,
		"--secure-port=6443", "--cert-dir="+e.path("apiserver-certs"),
		"--token-auth-file="+e.path("etc", "tokens.csv"), "--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range="+serviceCIDR,
		// The kubelet serves logs/exec on 127.0.0.1; the node name resolves there (nsinit's /etc/hosts).
		"--kubelet-preferred-address-types=Hostname,InternalIP")
	err := peer.Eventually(3*time.Minute, 200*time.Millisecond, func() error {
		if done, werr := api.Exited(); done {
			return fmt.Errorf("kube-apiserver exited: %v", werr)
		}
		_, err := cp.kubectl.run(context.Background(), "get", "--raw=/readyz")
		return err
	})
	if err != nil {
		t.Fatalf("kube-apiserver not ready: %v\n%s", err, api.LogTail(40))
	}
	cm := startProc(t, e, "kube-controller-manager", 20*time.Second, nil, e.bin("kube-controller-manager"),
		"--kubeconfig="+cp.kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0",
		"--service-account-private-key-file="+saKey, "--use-service-account-credentials=false",
		// Pods' ServiceAccount ca.crt (kube-root-ca.crt): the API server's self-signed chain.
		"--root-ca-file="+e.path("apiserver-certs", "apiserver.crt"),
		// The node's podCIDR: what Flannel's kube subnet manager reads, and Cilium's --ipam=kubernetes.
		"--allocate-node-cidrs=true", "--cluster-cidr="+clusterCIDR, "--node-cidr-mask-size=24",
		"--service-cluster-ip-range="+serviceCIDR)
	sched := startProc(t, e, "kube-scheduler", 20*time.Second, nil, e.bin("kube-scheduler"),
		"--kubeconfig="+cp.kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0")
	cp.procs = []*peer.Proc{etcd, api, cm, sched}
	return cp
}

func kubeconfigYAML(token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: cluster
  context: {cluster: cluster, user: admin}
current-context: cluster
`, apiServerURL, token)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// writeRSAKey writes the service-account signing key (PKCS#1 PEM, as openssl genrsa does).
func writeRSAKey(t *testing.T, path string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa key: %v", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatalf("write key: %v", err)
	}
}
