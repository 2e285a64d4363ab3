//go:build cluster

// Package cluster is issues 7 and 14 end to end: a real two-node Kubernetes cluster (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler; per node kubelet, containerd + runc, flanneld
// with host-gw and the real cilium-agent v1.20.2 with Kubernetes, Hubble and kube-proxy replacement),
// Flannel's CNI plugin as the primary network, the cilium-chain installer DaemonSet applied from
// install/kubernetes/cilium-chain.yaml, and the seed's CiliumNetworkPolicies enforced on pods selected
// by their Kubernetes labels, on one node and across the nodes.
//
// It only runs inside the namespaces run.sh prepares (`make e2e-cluster`): a private network, mount and
// pid namespace whose /run, /etc, /opt, /var/lib and /var/log are private (see nsinit.sh), so the node's
// paths (/etc/cni/net.d, /opt/cni/bin, /var/lib/kubelet...) never appear on the host and every process
// dies with the namespace. The test itself stops each process by PID in its cleanups.
package cluster
