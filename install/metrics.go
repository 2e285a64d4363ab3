package main

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are what /metrics on the probe port says about this node's installer.
type metrics struct {
	reg *prometheus.Registry

	binaryInstalls *prometheus.CounterVec // result: ok, error
	conflistWrites *prometheus.CounterVec // result: ok, error
	removals       *prometheus.CounterVec // result: ok, error
	ready          prometheus.Gauge
	foreign        *prometheus.CounterVec // action: restored (someone undid our entry), kept (another installer added its entries)
	backoffs       prometheus.Counter
	// adoption's last pass (adopt.go)
	unmanagedPods prometheus.Gauge
	managedPods   prometheus.Gauge
	adopted       prometheus.Counter
	passFailures  prometheus.Counter
	repairs       *prometheus.CounterVec // repair.go: method (evict, delete), result (repaired, blocked, failed)

	mu        sync.Mutex
	lastMatch time.Time // the last round that found our conflist right for the primary
	now       func() time.Time
}

func newMetrics(version string, now func() time.Time) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), now: now}
	const ns, sub = "cilium_chain", "install"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.binaryInstalls = counter("binary_installs_total", "Copies of the plugin binary into the host's bin dir, by result.", "result")
	m.conflistWrites = counter("conflist_writes_total", "Writes of our conflist, by result.", "result")
	m.removals = counter("conflist_removals_total", "Removals of our conflist (no CNI config besides ours left, or uninstall), by result.", "result")
	m.foreign = counter("foreign_changes_total", "Changes of our conflist by another process: restored (our entry undone) or kept (another installer's entries added).", "action")
	m.backoffs = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fight_backoffs_total",
		Help: "Times another writer kept changing our conflist and we left it alone for --fight-backoff."})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "ready", Help: "1 while /readyz answers ok."})
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	m.unmanagedPods = gauge("unmanaged_pods", "Pods on this node that run without a cilium-chain endpoint, after adoption's last pass.")
	m.managedPods = gauge("managed_pods", "Pods on this node with a cilium-chain endpoint, after adoption's last pass.")
	m.adopted = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "adopted_pods_total",
		Help: "Pods that predated our conflist and were registered by adoption."})
	m.passFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "adoption_pass_failures_total",
		Help: "Adoption passes that failed."})
	m.repairs = counter("repairs_total", "Pods restarted by repair (an eviction or deletion asked of the API server), by method and result.", "method", "result")
	since := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "seconds_since_conflist_matched",
		Help: "Seconds since a round last found our conflist right for the current primary (-1: never)."}, m.sinceMatch)
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "info",
		Help: "Always 1; the version label is the installer's.", ConstLabels: prometheus.Labels{"version": version}})
	info.Set(1)
	m.reg.MustRegister(m.backoffs, m.ready, m.adopted, m.passFailures, since, info)
	for _, r := range []string{"ok", "error"} {
		m.binaryInstalls.WithLabelValues(r)
		m.conflistWrites.WithLabelValues(r)
		m.removals.WithLabelValues(r)
	}
	m.foreign.WithLabelValues("restored")
	m.foreign.WithLabelValues("kept")
	return m
}

// setAdoption takes adoption's pass counts (adoptionGauges).
func (m *metrics) setAdoption(adopted, managed, unmanaged int, passFailed bool) {
	m.unmanagedPods.Set(float64(unmanaged))
	m.managedPods.Set(float64(managed))
	m.adopted.Add(float64(adopted))
	if passFailed {
		m.passFailures.Inc()
	}
}

// countRepair counts one repair attempt (repairCounter).
func (m *metrics) countRepair(method, result string) {
	m.repairs.WithLabelValues(method, result).Inc()
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (m *metrics) matched() {
	m.mu.Lock()
	m.lastMatch = m.now()
	m.mu.Unlock()
}

func (m *metrics) sinceMatch() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastMatch.IsZero() {
		return -1
	}
	return m.now().Sub(m.lastMatch).Seconds()
}
