package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cilium-chain/cilium-chain/chain"
)

// Repair methods (--repair-method).
const (
	repairEvict  = "evict"
	repairDelete = "delete"
)

// repairGrace is how long an attachment must stay unmanaged before repair acts: a pod in the middle
// of its DEL has lost its endpoint before the runtime drops its cache entry.
const repairGrace = 30 * time.Second

// mirrorAnnotation marks the API's copy of a static pod: deleting it does not restart the pod.
const mirrorAnnotation = "kubernetes.io/config.mirror"

// repairCounter receives every repair attempt's result (repaired, blocked, failed): the metrics
// registry implements it.
type repairCounter interface {
	countRepair(method, result string)
}

// repairer restarts, through the API server, the pods of this node that adoption reports unmanaged,
// so their controller recreates them through our chain. Off unless --repair.
type repairer struct {
	method    string // repairEvict or repairDelete
	barePods  bool   // also act on pods no controller recreates
	perMinute int
	node      string
	api       *podAPI
	log       *logrus.Logger
	counter   repairCounter // nil: no metrics registry
	now       func() time.Time
	grace     time.Duration

	// Only the adopter's loop calls run; mu guards what details reads.
	mu      sync.Mutex
	since   map[string]time.Time // when each attachment unmanaged in the last pass was first seen so
	acted   map[string]bool      // pod UIDs already evicted/deleted (they take a while to go)
	recent  []time.Time          // repairs within the last minute
	pending []string             // the last run's pods that are reported only, one line each
	total   int
}

// repairFromConfig is the repairer --repair asks for, or nil when repair is off.
func repairFromConfig(cfg *config, log *logrus.Logger) (*repairer, error) {
	if !cfg.repair {
		return nil, nil
	}
	api, err := newInClusterPodAPI(cfg.repairAPIServer, serviceAccountDir, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return newRepairer(cfg, log, api), nil
}

// setRepair hands adoption's passes to r (nil: repair off) and r's counts to the metrics.
func (in *installer) setRepair(r *repairer) {
	in.adopt.repair = r
	if r != nil {
		r.counter = in.metrics
	}
}

func newRepairer(cfg *config, log *logrus.Logger, api *podAPI) *repairer {
	return &repairer{method: cfg.repairMethod, barePods: cfg.repairBarePods, perMinute: cfg.repairPerMinute,
		node: cfg.nodeName, api: api, log: log, now: time.Now, grace: repairGrace,
		since: map[string]time.Time{}, acted: map[string]bool{}}
}

// run acts on one adoption pass's unmanaged attachments. An attachment is a candidate only once every
// pass for repairGrace has found it unmanaged.
func (r *repairer) run(ctx context.Context, unmanaged []chain.AttachmentReport) {
	var candidates []chain.AttachmentReport
	now := r.now()
	since := map[string]time.Time{}
	for _, u := range unmanaged {
		key := u.ContainerID + ":" + u.IfName
		first, ok := r.since[key]
		if !ok {
			first = now
		}
		since[key] = first
		if now.Sub(first) >= r.grace && u.PodUID != "" && !r.acted[u.PodUID] {
			candidates = append(candidates, u)
		}
	}
	r.since = since
	if len(candidates) == 0 {
		r.setPending(nil)
		return
	}
	pods, err := r.api.podsOnNode(ctx, r.node)
	if err != nil {
		r.log.WithError(err).Warn("repair: cannot list this node's pods; trying again on the next pass")
		return
	}
	byUID := map[string]*apiPod{}
	for i := range pods {
		byUID[pods[i].Metadata.UID] = &pods[i]
	}
	var pending []string
	for _, u := range candidates {
		p := byUID[u.PodUID]
		if why := r.never(u, p); why != "" {
			pending = append(pending, fmt.Sprintf("not repaired %s: %s", u, why))
			continue
		}
		if !r.allow() {
			pending = append(pending, fmt.Sprintf("not repaired yet %s: rate limit of %d a minute", u, r.perMinute))
			continue
		}
		r.repair(ctx, u, p)
	}
	for uid := range r.acted { // forget pods that are gone
		if byUID[uid] == nil {
			delete(r.acted, uid)
		}
	}
	r.setPending(pending)
}

// never says why a pod is not to be touched, or "".
func (r *repairer) never(u chain.AttachmentReport, p *apiPod) string {
	switch {
	case p == nil:
		return "no pod with UID " + u.PodUID + " on node " + r.node
	case p.Metadata.Namespace != u.Namespace || p.Metadata.Name != u.Pod:
		return fmt.Sprintf("the pod with its UID is %s/%s", p.Metadata.Namespace, p.Metadata.Name)
	case p.Spec.NodeName != r.node:
		return "the pod is on node " + p.Spec.NodeName
	case p.Spec.HostNetwork:
		return "a hostNetwork pod has no attachment of ours"
	case p.Metadata.Annotations[mirrorAnnotation] != "":
		return "a static pod: only the kubelet's manifest restarts it"
	case p.Metadata.DeletionTimestamp != nil:
		return "already being deleted"
	case p.controller() == "" && !r.barePods:
		return "a bare pod (no controller would recreate it); delete it yourself, or set --repair-bare-pods"
	}
	return ""
}

// allow takes one repair from the budget of --repair-per-minute.
func (r *repairer) allow() bool {
	now := r.now()
	kept := r.recent[:0]
	for _, t := range r.recent {
		if now.Sub(t) < time.Minute {
			kept = append(kept, t)
		}
	}
	r.recent = kept
	if len(r.recent) >= r.perMinute {
		return false
	}
	r.recent = append(r.recent, now)
	return true
}

func (r *repairer) repair(ctx context.Context, u chain.AttachmentReport, p *apiPod) {
	log := r.log.WithFields(logrus.Fields{"namespace": u.Namespace, "pod": u.Pod, "uid": u.PodUID,
		"controller": p.controller(), "method": r.method, "reason": u.Reason})
	var err error
	if r.method == repairDelete {
		err = r.api.delete(ctx, p)
	} else {
		err = r.api.evict(ctx, p)
	}
	result := "repaired"
	switch code := statusCode(err); {
	case err == nil:
		r.acted[u.PodUID] = true
		r.mu.Lock()
		r.total++
		r.mu.Unlock()
		log.Warn("repair: restarted a pod that runs without a Cilium endpoint; its controller recreates it through our chain")
	case code == http.StatusTooManyRequests: // a PodDisruptionBudget forbids it now
		result = "blocked"
		log.WithError(err).Warn("repair: eviction refused (PodDisruptionBudget); trying again on the next pass")
	case code == http.StatusNotFound || code == http.StatusConflict: // gone, or another pod by now
		result = "failed"
		log.WithError(err).Info("repair: the pod went away or changed meanwhile")
	default:
		result = "failed"
		log.WithError(err).Warn("repair: failed; trying again on the next pass")
	}
	if r.counter != nil {
		r.counter.countRepair(r.method, result)
	}
}

// setPending keeps the pods repair leaves alone for /readyz and logs each new one once.
func (r *repairer) setPending(lines []string) {
	sort.Strings(lines)
	r.mu.Lock()
	prev := r.pending
	r.pending = lines
	r.mu.Unlock()
	for _, l := range lines {
		if !slices.Contains(prev, l) {
			r.log.Info("repair: " + l)
		}
	}
}

// details is repair's part of /readyz.
func (r *repairer) details() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &strings.Builder{}
	fmt.Fprintf(b, "repair on (%s, at most %d a minute): %d pods restarted\n", r.method, r.perMinute, r.total)
	for _, l := range r.pending {
		b.WriteString(l + "\n")
	}
	return b.String()
}
