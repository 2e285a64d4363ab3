package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cilium-chain/cilium-chain/chain"
)

const testNodeName = "node-a"

// fakeAPIServer is a kube-apiserver for repair: it lists the pods it holds (honouring the node field
// selector, as the real one does), and records evictions and deletions, answering with status when set.
type fakeAPIServer struct {
	srv *httptest.Server
	t   *testing.T

	mu       sync.Mutex
	pods     []map[string]any
	status   int      // answer to evictions/deletions; 0: 201/200
	actions  []string // "evict ns/name uid" or "delete ns/name uid"
	lists    int
	badToken bool
}

func newFakeAPIServer(t *testing.T) *fakeAPIServer {
	f := &fakeAPIServer{t: t}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPIServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer test-token" {
		f.badToken = true
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/pods":
		f.lists++
		node := strings.TrimPrefix(r.URL.Query().Get("fieldSelector"), "spec.nodeName=")
		var items []map[string]any
		for _, p := range f.pods {
			if p["spec"].(map[string]any)["nodeName"] == node {
				items = append(items, p)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	case len(parts) >= 6 && parts[2] == "namespaces" && parts[4] == "pods":
		var body struct {
			Preconditions struct {
				UID string `json:"uid"`
			} `json:"preconditions"`
			DeleteOptions struct {
				Preconditions struct {
					UID string `json:"uid"`
				} `json:"preconditions"`
			} `json:"deleteOptions"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			f.t.Errorf("%s %s: body %q: %v", r.Method, r.URL.Path, b, err)
		}
		what, uid := "delete", body.Preconditions.UID
		if r.Method == http.MethodPost && len(parts) == 7 && parts[6] == "eviction" {
			what, uid = "evict", body.DeleteOptions.Preconditions.UID
		} else if r.Method != http.MethodDelete || len(parts) != 6 {
			http.Error(w, "unexpected", http.StatusMethodNotAllowed)
			return
		}
		f.actions = append(f.actions, fmt.Sprintf("%s %s/%s %s", what, parts[3], parts[5], uid))
		if f.status != 0 {
			w.WriteHeader(f.status)
			fmt.Fprint(w, `{"message":"Cannot evict pod as it would violate the pod's disruption budget."}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{}`)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

// addPod adds a pod; mutate edits its object before it is stored.
func (f *fakeAPIServer) addPod(name, uid string, mutate func(meta, spec map[string]any)) {
	meta := map[string]any{"name": name, "namespace": "default", "uid": uid,
		"ownerReferences": []any{map[string]any{"kind": "ReplicaSet", "name": "web-7d4f", "controller": true}}}
	spec := map[string]any{"nodeName": testNodeName}
	if mutate != nil {
		mutate(meta, spec)
	}
	f.mu.Lock()
	f.pods = append(f.pods, map[string]any{"metadata": meta, "spec": spec})
	f.mu.Unlock()
}

func (f *fakeAPIServer) setStatus(code int) {
	f.mu.Lock()
	f.status = code
	f.mu.Unlock()
}

func (f *fakeAPIServer) got() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.badToken {
		f.t.Error("a request without the ServiceAccount token")
	}
	return append([]string(nil), f.actions...), f.lists
}

func (f *fakeAPIServer) podAPI(t *testing.T) *podAPI {
	tok := filepath.Join(t.TempDir(), "token")
	writeFile(t, tok, "test-token\n", 0o600)
	return &podAPI{server: f.srv.URL, tokenFile: tok, client: f.srv.Client()}
}

type recordingCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *recordingCounter) countRepair(method, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[method+" "+result]++
}

func (c *recordingCounter) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts
}

type testRepairer struct {
	*repairer
	logs    *syncBuffer
	counter *recordingCounter
	clock   time.Time
}

func newTestRepairer(t *testing.T, f *fakeAPIServer, args ...string) *testRepairer {
	t.Helper()
	cfg := mustConfig(t, newTestNode(t).args(append([]string{"--repair", "--node-name=" + testNodeName}, args...)...))
	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	tr := &testRepairer{logs: logs, counter: &recordingCounter{}, clock: time.Unix(1_000_000, 0)}
	tr.repairer = newRepairer(cfg, log, f.podAPI(t))
	tr.repairer.counter = tr.counter
	tr.now = func() time.Time { return tr.clock }
	return tr
}

func unmanaged(pod, uid string) chain.AttachmentReport {
	return chain.AttachmentReport{ContainerID: "cid-" + pod, IfName: "eth0", Namespace: "default", Pod: pod, PodUID: uid,
		Outcome: chain.OutcomeUnmanaged, Reason: "adoption is off"}
}

// runTwice is two adoption passes reporting the same pods, the grace time apart: repair acts on them.
func (tr *testRepairer) runTwice(reps ...chain.AttachmentReport) {
	tr.run(context.Background(), reps)
	tr.clock = tr.clock.Add(repairGrace)
	tr.run(context.Background(), reps)
}

// A ReplicaSet's pod, unmanaged in every pass for the grace time, is evicted (by UID), once; the
// passes before ask the API server nothing.
func TestRepairEvictsAControlledPod(t *testing.T) {
	f := newFakeAPIServer(t)
	f.addPod("web", "uid-web", nil)
	tr := newTestRepairer(t, f)
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")})
	tr.clock = tr.clock.Add(repairGrace - time.Second)
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")})
	if actions, lists := f.got(); len(actions) != 0 || lists != 0 {
		t.Fatalf("within the grace time: %v, %d lists; want no request", actions, lists)
	}
	tr.clock = tr.clock.Add(time.Second)
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")})
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")}) // still terminating
	actions, _ := f.got()
	if want := []string{"evict default/web uid-web"}; fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Fatalf("actions %v, want %v", actions, want)
	}
	if c := tr.counter.get(); c["evict repaired"] != 1 || len(c) != 1 {
		t.Fatalf("counts %v, want one evict repaired", c)
	}
	if !strings.Contains(tr.logs.String(), "repair: restarted a pod") || !strings.Contains(tr.logs.String(), "controller=ReplicaSet/web-7d4f") {
		t.Fatalf("log:\n%s", tr.logs)
	}
	if d := tr.details(); !strings.HasPrefix(d, "repair on (evict, at most 3 a minute): 1 pods restarted\n") {
		t.Fatalf("details: %q", d)
	}
}

// An attachment that drops out of one pass starts its grace time again.
func TestRepairGraceRestartsWhenManaged(t *testing.T) {
	f := newFakeAPIServer(t)
	f.addPod("web", "uid-web", nil)
	tr := newTestRepairer(t, f)
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")})
	tr.clock = tr.clock.Add(repairGrace)
	tr.run(context.Background(), nil)
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")})
	if actions, _ := f.got(); len(actions) != 0 {
		t.Fatalf("actions %v, want none", actions)
	}
}

// The pods repair never touches, whatever it is told; each is reported with why.
func TestRepairNeverTouches(t *testing.T) {
	bare := func(meta, spec map[string]any) { delete(meta, "ownerReferences") }
	for _, tc := range []struct {
		name   string
		mutate func(meta, spec map[string]any)
		report chain.AttachmentReport
		why    string
	}{
		{"bare pod", bare, unmanaged("p", "uid-p"), "a bare pod (no controller would recreate it)"},
		{"owner that is no controller", func(meta, spec map[string]any) {
			meta["ownerReferences"] = []any{map[string]any{"kind": "ReplicaSet", "name": "x", "controller": false}}
		}, unmanaged("p", "uid-p"), "a bare pod"},
		{"static pod's mirror", func(meta, spec map[string]any) {
			meta["namespace"] = "kube-system"
			meta["annotations"] = map[string]any{mirrorAnnotation: "abc"}
			meta["ownerReferences"] = []any{map[string]any{"kind": "Node", "name": testNodeName, "controller": true}}
		}, chain.AttachmentReport{ContainerID: "c", IfName: "eth0", Namespace: "kube-system", Pod: "p", PodUID: "uid-p"}, "a static pod"},
		{"hostNetwork", func(meta, spec map[string]any) { spec["hostNetwork"] = true }, unmanaged("p", "uid-p"), "a hostNetwork pod"},
		{"being deleted", func(meta, spec map[string]any) { meta["deletionTimestamp"] = "2026-12-01T12:00:00Z" }, unmanaged("p", "uid-p"), "already being deleted"},
		{"another node's pod", func(meta, spec map[string]any) { spec["nodeName"] = "node-b" }, unmanaged("p", "uid-p"), "no pod with UID uid-p on node node-a"},
		{"a namesake (other UID)", nil, unmanaged("p", "uid-old"), "no pod with UID uid-old"},
		{"UID of another pod", nil, unmanaged("q", "uid-p"), "the pod with its UID is default/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPIServer(t)
			f.addPod("p", "uid-p", tc.mutate)
			tr := newTestRepairer(t, f, "--repair-bare-pods="+fmt.Sprint(tc.name != "bare pod" && tc.name != "owner that is no controller"))
			tr.runTwice(tc.report)
			if actions, _ := f.got(); len(actions) != 0 {
				t.Fatalf("actions %v, want none", actions)
			}
			if d := tr.details(); !strings.Contains(d, "not repaired "+tc.report.String()+": "+tc.why) {
				t.Fatalf("details lack %q:\n%s", tc.why, d)
			}
			if !strings.Contains(tr.logs.String(), tc.why) {
				t.Fatalf("log lacks %q:\n%s", tc.why, tr.logs)
			}
		})
	}
}

// --repair-bare-pods: a bare pod is deleted too (an explicit choice: nothing recreates it).
func TestRepairBarePodsWhenAsked(t *testing.T) {
	f := newFakeAPIServer(t)
	f.addPod("p", "uid-p", func(meta, spec map[string]any) { delete(meta, "ownerReferences") })
	tr := newTestRepairer(t, f, "--repair-bare-pods")
	tr.runTwice(unmanaged("p", "uid-p"))
	if actions, _ := f.got(); fmt.Sprint(actions) != "[evict default/p uid-p]" {
		t.Fatalf("actions %v", actions)
	}
}

// At most --repair-per-minute restarts in any minute; the rest wait, reported, for a later pass.
func TestRepairRateLimit(t *testing.T) {
	f := newFakeAPIServer(t)
	var reps []chain.AttachmentReport
	for i := range 5 {
		name := fmt.Sprintf("web-%d", i)
		f.addPod(name, "uid-"+name, nil)
		reps = append(reps, unmanaged(name, "uid-"+name))
	}
	tr := newTestRepairer(t, f, "--repair-per-minute=2")
	tr.runTwice(reps...)
	if actions, _ := f.got(); len(actions) != 2 {
		t.Fatalf("actions %v, want 2 in the first minute", actions)
	}
	if d := tr.details(); strings.Count(d, "rate limit of 2 a minute") != 3 {
		t.Fatalf("details:\n%s", d)
	}
	tr.clock = tr.clock.Add(59 * time.Second)
	tr.run(context.Background(), reps)
	if actions, _ := f.got(); len(actions) != 2 {
		t.Fatalf("actions %v, want still 2 within the minute", actions)
	}
	tr.clock = tr.clock.Add(time.Second)
	tr.run(context.Background(), reps)
	actions, _ := f.got()
	if len(actions) != 4 || actions[2] != "evict default/web-2 uid-web-2" {
		t.Fatalf("actions %v, want 2 more after the minute", actions)
	}
}

// --repair-method=delete deletes the pod (by UID) instead of evicting it.
func TestRepairDelete(t *testing.T) {
	f := newFakeAPIServer(t)
	f.addPod("web", "uid-web", nil)
	tr := newTestRepairer(t, f, "--repair-method=delete")
	tr.runTwice(unmanaged("web", "uid-web"))
	if actions, _ := f.got(); fmt.Sprint(actions) != "[delete default/web uid-web]" {
		t.Fatalf("actions %v", actions)
	}
	if c := tr.counter.get(); c["delete repaired"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// An eviction a PodDisruptionBudget refuses (429) is counted blocked and tried again next pass.
func TestRepairEvictionBlockedByBudget(t *testing.T) {
	f := newFakeAPIServer(t)
	f.addPod("web", "uid-web", nil)
	f.setStatus(http.StatusTooManyRequests)
	tr := newTestRepairer(t, f)
	tr.runTwice(unmanaged("web", "uid-web"))
	if c := tr.counter.get(); c["evict blocked"] != 1 {
		t.Fatalf("counts %v, want one blocked", c)
	}
	if !strings.Contains(tr.logs.String(), "disruption budget") {
		t.Fatalf("log lacks the API's reason:\n%s", tr.logs)
	}
	f.setStatus(0)
	tr.clock = tr.clock.Add(time.Minute)
	tr.run(context.Background(), []chain.AttachmentReport{unmanaged("web", "uid-web")})
	if actions, _ := f.got(); len(actions) != 2 {
		t.Fatalf("actions %v, want the eviction tried again", actions)
	}
	if c := tr.counter.get(); c["evict repaired"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// The in-cluster client: the address from KUBERNETES_SERVICE_HOST/PORT, the CA and the token from the
// ServiceAccount dir; a server whose certificate the CA does not sign is refused.
func TestRepairInClusterAPI(t *testing.T) {
	f := newFakeAPIServer(t)
	f.addPod("web", "uid-web", nil)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), "test-token", 0o600)
	writeFile(t, filepath.Join(dir, "ca.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})), 0o644)
	u, _ := url.Parse(f.srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	env := map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
	api, err := newInClusterPodAPI("", dir, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	pods, err := api.podsOnNode(context.Background(), testNodeName)
	if err != nil || len(pods) != 1 || pods[0].Metadata.UID != "uid-web" || pods[0].controller() != "ReplicaSet/web-7d4f" {
		t.Fatalf("pods %+v, err %v", pods, err)
	}
	writeFile(t, filepath.Join(dir, "ca.crt"), otherCA(t), 0o644)
	api, err = newInClusterPodAPI(f.srv.URL, dir, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.podsOnNode(context.Background(), testNodeName); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server with another certificate: %v, want a TLS error", err)
	}
	if _, err := newInClusterPodAPI("", dir, func(string) (string, bool) { return "", false }); err == nil {
		t.Fatal("no address: want an error")
	}
}

// otherCA is a self-signed CA certificate that signed nothing the test servers use.
func otherCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRepairOptions(t *testing.T) {
	n := newTestNode(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repair"}, "--repair needs --node-name"},
		{[]string{"--repair", "--node-name=n", "--repair-method=kill"}, `--repair-method must be "evict" or "delete"`},
		{[]string{"--repair", "--node-name=n", "--repair-per-minute=0"}, "--repair-per-minute must be at least 1"},
	} {
		_, err := parseConfig(n.args(tc.args...), func(string) (string, bool) { return "", false }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	cfg := mustConfig(t, n.args())
	if cfg.repair {
		t.Fatal("repair is on by default")
	}
	if r, err := repairFromConfig(cfg, logrus.New()); r != nil || err != nil {
		t.Fatalf("repair off: %v %v, want no repairer", r, err)
	}
}

// Wired to adoption: a pod the installer's passes report unmanaged (adoption off here) is evicted
// once its grace time is over; /readyz and /metrics show it.
func TestRepairFollowsAdoptionPasses(t *testing.T) {
	a := newAdoptionNode(t)
	a.cacheEntry(t, "c0ffee01", "old")
	f := newFakeAPIServer(t)
	f.addPod("old", "uid-old", nil)
	cfg := mustConfig(t, a.args("--adopt=false", "--resync=50ms", "--repair", "--node-name="+testNodeName))
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg.repair = false // repairFromConfig would look for the in-cluster credentials
	in, err := newInstaller(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg.repair = true
	in.setRepair(newRepairer(cfg, log, f.podAPI(t)))
	in.adopt.repair.grace = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 5*time.Second, "eviction", func() bool { actions, _ := f.got(); return len(actions) > 0 })
	if actions, _ := f.got(); fmt.Sprint(actions) != "[evict default/old uid-old]" {
		t.Fatalf("actions %v", actions)
	}
	eventually(t, 5*time.Second, "/readyz", func() bool {
		return strings.Contains(readyz(in), "repair on (evict, at most 3 a minute): 1 pods restarted")
	})
	if _, m := get(t, in.probeHandler(), "/metrics"); !strings.Contains(m, `cilium_chain_install_repairs_total{method="evict",result="repaired"} 1`) {
		t.Fatalf("/metrics lacks the repair:\n%s", m)
	}
}

// The chart grants repair's RBAC and mounts the token only with repair.enabled, and only the verbs its
// method needs; by default there is neither.
func TestHelmRepairRBAC(t *testing.T) {
	render := func(args ...string) string {
		return string(helm(t, append([]string{"template", "cilium-chain", chartDir, "--namespace", "kube-system"}, args...)...))
	}
	def := render()
	if strings.Contains(def, "ClusterRole") || strings.Contains(def, "automountServiceAccountToken: true") || strings.Contains(def, "CILIUM_CHAIN_REPAIR") {
		t.Fatalf("the default chart renders repair's RBAC, token or options:\n%s", def)
	}
	rules := func(out string) string {
		i := strings.Index(out, "rules:\n")
		j := strings.Index(out, "---\n# Source: cilium-chain/templates/repair-rbac.yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding")
		if i < 0 || j < i {
			t.Fatalf("no ClusterRole with rules, then its binding:\n%s", out)
		}
		return out[i:j]
	}
	evict := render("--set", "repair.enabled=true")
	if got := rules(evict); got != "rules:\n- apiGroups: [\"\"]\n  resources: [\"pods\"]\n  verbs: [\"list\"]\n- apiGroups: [\"\"]\n  resources: [\"pods/eviction\"]\n  verbs: [\"create\"]\n" {
		t.Fatalf("evict rules:\n%s", got)
	}
	if strings.Count(evict, "automountServiceAccountToken: true") != 2 || !strings.Contains(evict, "fieldPath: spec.nodeName") {
		t.Fatalf("repair on: want the token mounted (ServiceAccount and pod) and the node name:\n%s", evict)
	}
	del := render("--set", "repair.enabled=true", "--set", "repair.method=delete")
	if got := rules(del); !strings.Contains(got, `verbs: ["delete"]`) || strings.Contains(got, "eviction") {
		t.Fatalf("delete rules:\n%s", got)
	}
	cmd := exec.Command(helmBinary(t), "template", "cilium-chain", chartDir, "--set", "repair.enabled=true", "--set", "repair.method=kill")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "repair.method must be evict or delete") {
		t.Fatalf("a bad method: %v %s", err, out)
	}
}
