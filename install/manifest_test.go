package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cilium-chain/cilium-chain/chain"
)

const manifestPath = "kubernetes/cilium-chain.yaml"

// manifest is the parsed install/kubernetes/cilium-chain.yaml.
type manifest struct {
	serviceAccount corev1.ServiceAccount
	configMap      corev1.ConfigMap
	daemonSet      appsv1.DaemonSet
}

// loadManifest decodes every document strictly into the real API types, so a misspelt or misplaced
// field fails here rather than being silently dropped by the API server.
func loadManifest(t *testing.T) manifest {
	t.Helper()
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	kinds := map[string]int{}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var target any
		switch meta.Kind {
		case "ServiceAccount":
			target = &m.serviceAccount
		case "ConfigMap":
			target = &m.configMap
		case "DaemonSet":
			target = &m.daemonSet
		case "":
			continue
		default:
			t.Fatalf("unexpected kind %q in the manifest", meta.Kind)
		}
		kinds[meta.Kind]++
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	for _, k := range []string{"ServiceAccount", "ConfigMap", "DaemonSet"} {
		if kinds[k] != 1 {
			t.Fatalf("%d %s documents, want 1", kinds[k], k)
		}
	}
	return m
}

// TestManifestShape checks the properties the DaemonSet promises, without running anything.
func TestManifestShape(t *testing.T) {
	m := loadManifest(t)
	ds := m.daemonSet
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	var ro, mountPaths []string
	for _, vm := range c.VolumeMounts {
		mountPaths = append(mountPaths, vm.MountPath)
		if vm.ReadOnly {
			ro = append(ro, vm.MountPath)
		}
	}
	hostPaths := map[string]string{}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"namespace kube-system", ds.Namespace == "kube-system" && m.configMap.Namespace == "kube-system" && m.serviceAccount.Namespace == "kube-system"},
		{"selector matches the template", ds.Spec.Selector != nil && ds.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == ds.Spec.Template.Labels["app.kubernetes.io/name"]},
		{"service account", pod.ServiceAccountName == m.serviceAccount.Name},
		{"no API token mounted", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
		{"hostNetwork", pod.HostNetwork},
		{"system-node-critical", pod.PriorityClassName == "system-node-critical"},
		{"tolerates every taint", slices.ContainsFunc(pod.Tolerations, func(tl corev1.Toleration) bool {
			return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
		})},
		{"rolling update, one node at a time", ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType &&
			ds.Spec.UpdateStrategy.RollingUpdate != nil && ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.IntValue() == 1},
		{"image", c.Image == "ghcr.io/cilium-chain/cilium-chain:v0.1.0" && c.ImagePullPolicy == corev1.PullIfNotPresent},
		{"not privileged", sc != nil && sc.Privileged != nil && !*sc.Privileged},
		{"no privilege escalation", sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"all capabilities dropped, none added", sc != nil && sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0},
		{"read-only root filesystem", sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
		{"runs as uid 0", sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0},
		{"resource requests and limits", !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero() &&
			!c.Resources.Limits.Cpu().IsZero() && !c.Resources.Limits.Memory().IsZero()},
		{"readiness probe on loopback /readyz", c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil &&
			c.ReadinessProbe.HTTPGet.Host == "127.0.0.1" && c.ReadinessProbe.HTTPGet.Path == "/readyz"},
		{"probe port is the --ready-addr port", c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil &&
			slices.Contains(c.Args, fmt.Sprintf("--ready-addr=127.0.0.1:%d", c.ReadinessProbe.HTTPGet.Port.IntValue()))},
		{"host paths", hostPaths["cni-bin"] == "/opt/cni/bin" && hostPaths["cni-conf"] == "/etc/cni/net.d" && hostPaths["cilium-run"] == "/var/run/cilium" &&
			hostPaths["cni-cache"] == "/var/lib/cni" && hostPaths["chain-state"] == chain.DefaultStateDir && hostPaths["netns"] == "/var/run/netns"},
		{"only the agent socket, config, libcni's cache and the netns files are read-only",
			slices.Equal(ro, []string{"/var/run/cilium", "/etc/cilium-chain", "/host/var/lib/cni", "/var/run/netns"})},
		{"adoption on, writing the plugin's records where --state-dir's default says",
			m.configMap.Data["CILIUM_CHAIN_ADOPT"] == "true" && slices.Contains(mountPaths, "/host"+chain.DefaultStateDir)},
		{"keeps the conflist across rolling updates", m.configMap.Data["CILIUM_CHAIN_KEEP_ON_EXIT"] == "true"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("manifest: %s: not so", c.what)
		}
	}
	// Every option in the ConfigMap must be a real flag, so a typo does not pass silently.
	known := map[string]bool{}
	for _, d := range newFlags(&config{}).docs {
		known[envName(d.name)] = true
	}
	for k := range m.configMap.Data {
		if strings.HasPrefix(k, envPrefix) && !known[k] {
			t.Errorf("ConfigMap key %s is not an installer option", k)
		}
	}
}

// shimSpec is what the kubelet and the container runtime would set up for the container.
type shimSpec struct {
	Root         string      // the image's root filesystem
	ReadOnlyRoot bool        // readOnlyRootFilesystem
	Mounts       []shimMount // volumeMounts, resolved to directories of the test
	Argv         []string    // command + args
	Env          []string
	UID, GID     int
	DropAllCaps  bool
	NoNewPrivs   bool
}

type shimMount struct {
	Source, Target string // Target is inside Root
	ReadOnly       bool
}

// kubeletShim runs in a fresh mount namespace (see TestManifestDaemonSetRunsLikeTheKubelet): it mounts
// the volumes, makes the root read-only, chroots, drops the capabilities and execs the container's
// command. It never returns on success.
func kubeletShim(specJSON string) int {
	var s shimSpec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		return 3
	}
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "shim: %s: %v\n", what, err)
		return 3
	}
	// Capabilities and no_new_privs are per thread: do all of it, and the exec, on this one.
	runtime.LockOSThread()
	if s.ReadOnlyRoot {
		if err := unix.Mount(s.Root, s.Root, "", unix.MS_BIND, ""); err != nil {
			return fail("bind root", err)
		}
		if err := unix.Mount("", s.Root, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fail("read-only root", err)
		}
	}
	for _, m := range s.Mounts {
		if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fail("mount "+m.Target, err)
		}
		if m.ReadOnly {
			if err := unix.Mount("", m.Target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
				return fail("read-only "+m.Target, err)
			}
		}
	}
	if err := unix.Chroot(s.Root); err != nil {
		return fail("chroot", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fail("chdir", err)
	}
	if err := unix.Setgroups(nil); err != nil {
		return fail("setgroups", err)
	}
	if err := unix.Setresgid(s.GID, s.GID, s.GID); err != nil {
		return fail("setgid", err)
	}
	if err := unix.Setresuid(s.UID, s.UID, s.UID); err != nil {
		return fail("setuid", err)
	}
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail("no_new_privs", err)
		}
	}
	if s.DropAllCaps {
		// Empty bounding set and no inheritable caps: root gets no capability back at execve.
		for c := 0; c <= unix.CAP_LAST_CAP; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
				return fail("drop bounding cap", err)
			}
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fail("capset", err)
		}
	}
	return fail("exec "+s.Argv[0], syscall.Exec(s.Argv[0], s.Argv, s.Env))
}

// buildStaticInstaller builds this package the way the image does (CGO_ENABLED=0), so it runs in an
// empty root filesystem.
func buildStaticInstaller(t *testing.T, out string) {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
}

// TestManifestDaemonSetRunsLikeTheKubelet runs the DaemonSet's container from the manifest the way the
// kubelet would on a node: its command and args, its env (envFrom the ConfigMap, with the manifest's
// values), its volumes (temp dirs stand in for each hostPath, the ConfigMap becomes files), mounted
// read-only where the manifest says, on a read-only root holding the image's files, as uid 0 with every
// capability dropped and no_new_privs. Then: the readiness probe as declared, the files on the "host",
// and a SIGTERM like a pod deletion.
func TestManifestDaemonSetRunsLikeTheKubelet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it bind-mounts the volumes in a private mount namespace and chroots (run the tests as root)")
	}
	m := loadManifest(t)
	pod := m.daemonSet.Spec.Template.Spec
	c := pod.Containers[0]
	tmp := t.TempDir()

	// The image: the two files the Dockerfile puts there.
	root := filepath.Join(tmp, "rootfs")
	installerPath := filepath.Join(root, c.Command[0])
	if err := os.MkdirAll(filepath.Dir(installerPath), 0o755); err != nil {
		t.Fatal(err)
	}
	buildStaticInstaller(t, installerPath)
	pluginInImage := filepath.Join(root, "opt/cilium-chain/bin/cilium-chain")
	os.MkdirAll(filepath.Dir(pluginInImage), 0o755)
	writeFile(t, pluginInImage, "#!/bin/sh\necho the cilium-chain plugin\n", 0o755)

	// The node: host paths under host/, with Flannel already configured.
	host := filepath.Join(tmp, "host")
	hostPath := func(p string) string { return filepath.Join(host, p) }
	os.MkdirAll(hostPath("/etc/cni/net.d"), 0o755)
	writeFile(t, hostPath("/etc/cni/net.d/10-flannel.conflist"), flannelPrimary, 0o644)

	spec := shimSpec{Root: root, UID: -1, GID: -1}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			t.Fatalf("volumeMount %s has no volume", vm.Name)
		}
		var src string
		switch {
		case v.HostPath != nil:
			src = hostPath(v.HostPath.Path)
			if v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
				t.Fatalf("hostPath %s is not DirectoryOrCreate", v.HostPath.Path)
			}
			os.MkdirAll(src, 0o755)
		case v.ConfigMap != nil:
			if v.ConfigMap.Name != m.configMap.Name {
				t.Fatalf("volume %s uses ConfigMap %s, the manifest has %s", v.Name, v.ConfigMap.Name, m.configMap.Name)
			}
			src = filepath.Join(tmp, "configmap-"+v.Name)
			os.MkdirAll(src, 0o755)
			for _, item := range v.ConfigMap.Items {
				val, ok := m.configMap.Data[item.Key]
				if !ok && (v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional) {
					t.Fatalf("ConfigMap key %s missing and the volume is not optional", item.Key)
				}
				if ok {
					writeFile(t, filepath.Join(src, item.Path), val, 0o644)
				}
			}
		default:
			t.Fatalf("volume %s: only hostPath and configMap are emulated", v.Name)
		}
		target := filepath.Join(root, vm.MountPath)
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		spec.Mounts = append(spec.Mounts, shimMount{Source: src, Target: target, ReadOnly: vm.ReadOnly})
	}

	spec.Argv = append(slices.Clone(c.Command), c.Args...)
	for _, a := range spec.Argv {
		if strings.Contains(a, "$(") {
			t.Fatalf("argument %q uses $(VAR) expansion, which this emulation does not do", a)
		}
	}
	env := map[string]string{
		"PATH":     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOSTNAME": "node-1",
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil || ef.ConfigMapRef.Name != m.configMap.Name {
			t.Fatalf("envFrom %+v: only the manifest's ConfigMap is emulated", ef)
		}
		for k, v := range m.configMap.Data {
			env[ef.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s: valueFrom is not emulated", e.Name)
		}
		env[e.Name] = e.Value
	}
	for k, v := range env {
		spec.Env = append(spec.Env, k+"="+v)
	}
	sc := c.SecurityContext
	spec.UID, spec.GID = int(*sc.RunAsUser), 0
	if sc.RunAsGroup != nil {
		spec.GID = int(*sc.RunAsGroup)
	}
	spec.ReadOnlyRoot = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	spec.DropAllCaps = sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL")
	spec.NoNewPrivs = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	specJSON, _ := json.Marshal(spec)

	probe := c.ReadinessProbe.HTTPGet
	probeURL := fmt.Sprintf("http://%s:%d%s", probe.Host, probe.Port.IntValue(), probe.Path)
	if resp, err := http.Get(probeURL); err == nil {
		resp.Body.Close()
		t.Fatalf("something already answers on %s; free the port first", probeURL)
	}

	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{asKubeletShimEnv + "=" + string(specJSON)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("container output:\n%s", logs.String())
		}
	})

	probeOK := func() bool {
		resp, err := http.Get(probeURL)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == http.StatusOK
	}
	ours := hostPath("/etc/cni/net.d/05-cilium.conflist")

	// The ConfigMap turns the agent gate on: nothing is written, and the pod is unready, until the
	// agent answers on the socket the manifest mounts.
	eventually(t, 10*time.Second, "plugin binary on the host", func() bool { return exists(hostPath("/opt/cni/bin/cilium-chain")) })
	if m.configMap.Data["CILIUM_CHAIN_WAIT_FOR_AGENT"] == "true" {
		never(t, time.Second, "conflist or readiness before the agent is up", func() bool { return exists(ours) || probeOK() })
		startFakeAgent(t, hostPath("/var/run/cilium/cilium.sock"), http.StatusOK)
	}
	eventually(t, 10*time.Second, "readiness probe "+probeURL, probeOK)

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if !regexp.MustCompile(`(?m)^` + field + `:\s+0+$`).Match(status) {
			t.Errorf("the installer runs with capabilities: %s", regexp.MustCompile(`(?m)^`+field+`:.*$`).Find(status))
		}
	}
	if !bytes.Contains(status, []byte("NoNewPrivs:\t1")) {
		t.Error("no_new_privs not set")
	}

	got, err := os.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	if !holdsOurEntry(got) || !bytes.Contains(got, []byte(`"name": "cbr0"`)) {
		t.Errorf("the conflist on the host is not Flannel's network chained with ours:\n%s", got)
	}
	if b, _ := os.ReadFile(hostPath("/opt/cni/bin/cilium-chain")); !bytes.Equal(b, []byte("#!/bin/sh\necho the cilium-chain plugin\n")) {
		t.Error("the host's plugin binary is not the image's")
	}
	for path, want := range map[string]os.FileMode{ours: 0o644, hostPath("/opt/cni/bin/cilium-chain"): 0o755} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}

	// Pod deletion: SIGTERM, then the grace period.
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("container exited with %v", err)
		}
	case <-time.After(grace):
		t.Fatalf("container did not stop within the %s grace period", grace)
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if keep := m.configMap.Data["CILIUM_CHAIN_KEEP_ON_EXIT"] == "true"; exists(ours) != keep {
		t.Errorf("after SIGTERM the conflist exists = %v, want %v (CILIUM_CHAIN_KEEP_ON_EXIT)", exists(ours), keep)
	}
	if !strings.Contains(logs.String(), "wrote conflist") {
		t.Errorf("no logrus log line about the write in the container output")
	}
}
