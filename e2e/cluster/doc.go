//go:build cluster

// Package cluster is issue 7 end to end: a real single-node Kubernetes cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet, containerd + runc) with Flannel's CNI plugin as the
// primary network, the cilium-chain installer DaemonSet applied from install/kubernetes/cilium-chain.yaml,
// and the real cilium-agent v1.20.2 with Kubernetes enforcing the seed's CiliumNetworkPolicies on pods
// selected by their Kubernetes labels.
//
// It only runs inside the namespaces run.sh prepares (`make e2e-cluster`): a private network, mount and
// pid namespace whose /run, /etc, /opt, /var/lib and /var/log are private (see nsinit.sh), so the node's
// paths (/etc/cni/net.d, /opt/cni/bin, /var/lib/kubelet...) never appear on the host and every process
// dies with the namespace. The test itself stops each process by PID in its cleanups.
package cluster
