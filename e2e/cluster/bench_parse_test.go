//go:build cluster && clusterbench

package cluster

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The bench's parsers on lines as containerd v2.2.1 and cilium-agent v1.20.2 print them (copied from
// a run's logs and /metrics); no cluster needed.
func TestBenchParseCRILog(t *testing.T) {
	log := `time="2026-12-01T13:15:28.818098115Z" level=info msg="RunPodSandbox for name:\"p\"  uid:\"u1\"  namespace:\"default\""
time="2026-12-01T13:15:29.100000000Z" level=error msg="RunPodSandbox for name:\"p\"  uid:\"u1\"  namespace:\"default\" failed, error" error="failed to setup network for sandbox \"x\": plugin type=\"cilium-cni\" failed (add)"
time="2026-12-01T13:15:30.000000000Z" level=info msg="RunPodSandbox for name:\"p\"  uid:\"u1\"  namespace:\"default\"  attempt:1"
time="2026-12-01T13:15:31.318098115Z" level=info msg="RunPodSandbox for name:\"p\"  uid:\"u1\"  namespace:\"default\"  attempt:1 returns sandbox id \"35aab7\""
time="2026-12-01T13:16:00.000000000Z" level=info msg="StopPodSandbox for \"35aab7\""
time="2026-12-01T13:16:01.500000000Z" level=info msg="TearDown network for sandbox \"35aab7\" successfully"
time="2026-12-01T13:16:02.000000000Z" level=info msg="StopPodSandbox for \"35aab7\" returns successfully"
time="2026-12-01T13:16:03.000000000Z" level=info msg="StopPodSandbox for \"35aab7\""
time="2026-12-01T13:16:03.100000000Z" level=info msg="StopPodSandbox for \"35aab7\" returns successfully"
`
	path := filepath.Join(t.TempDir(), "containerd.log")
	if err := os.WriteFile(path, []byte("time=\"x\" level=info msg=\"before the offset\"\n"+log), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := readCRICalls(path, int64(len("time=\"x\" level=info msg=\"before the offset\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.runDone["u1"].Sub(c.runStart["u1"]); got != 2500*time.Millisecond {
		t.Errorf("sandbox creation %s, want 2.5s (first attempt to the one that returned)", got)
	}
	if c.sandbox["u1"] != "35aab7" || c.runFailed["u1"] != 1 {
		t.Errorf("sandbox %q, failed %d; want 35aab7, 1", c.sandbox["u1"], c.runFailed["u1"])
	}
	if got := c.stopDone["35aab7"].Sub(c.stopStart["35aab7"]); got != 2*time.Second {
		t.Errorf("DEL %s, want 2s (the first StopPodSandbox)", got)
	}
}

func TestBenchParseMetrics(t *testing.T) {
	m, err := parseMetrics(`# HELP cilium_api_limiter_processed_requests_total Total number of API requests processed
# TYPE cilium_api_limiter_processed_requests_total counter
cilium_api_limiter_processed_requests_total{api_call="endpoint-create",outcome="success",return_code="201"} 36
cilium_api_limiter_processed_requests_total{api_call="endpoint-create",outcome="fail",return_code="429"} 4
cilium_api_limiter_processed_requests_total{api_call="endpoint-delete",outcome="success",return_code="200"} 40
cilium_api_limiter_processed_requests_total{api_call="endpoint-get",outcome="success",return_code="200"} 118
cilium_api_limiter_processed_requests_total{api_call="endpoint-get",outcome="fail",return_code="429"} 2
cilium_agent_api_process_time_seconds_sum{method="PUT",path="/v1/endpoint",return_code="201"} 12.5
cilium_agent_api_process_time_seconds_count{method="PUT",path="/v1/endpoint",return_code="201"} 40
cilium_endpoint_regeneration_time_stats_seconds_sum{scope="total",status="success"} 9.75
cilium_endpoint_regeneration_time_stats_seconds_count{scope="total",status="success"} 40
cilium_endpoint_regeneration_time_stats_seconds_sum{scope="bpfLoadProg",status="success"} 3
cilium_api_limiter_wait_duration_seconds{api_call="endpoint-create",value="mean"} 1.25
cilium_api_limiter_wait_history_duration_seconds_sum{api_call="endpoint-create"} 10.5
cilium_api_limiter_requests_in_flight{api_call="endpoint-create",value="in-flight"} 0
cilium_api_limiter_requests_in_flight{api_call="endpoint-create",value="limit"} 15
cilium_api_limiter_rate_limit{api_call="endpoint-create",value="limit"} 4.5
cilium_api_limiter_rate_limit{api_call="endpoint-create",value="burst"} 13
cilium_api_limiter_adjustment_factor{api_call="endpoint-create"} 9
cilium_label_escape{path="a \"b\", {c}"} 1
go_goroutines 312
`)
	if err != nil {
		t.Fatal(err)
	}
	f := figuresBetween(nil, m)
	want := agentFigures{createProcessed: 40, create429: 4, getProcessed: 120, get429: 2, regenCount: 40, regenSum: 9.75, putCount: 40, putSum: 12.5, waitSum: 10.5, waitMean: 1.25, parallelLimit: 15}
	if f != want {
		t.Errorf("figures %+v, want %+v", f, want)
	}
	// After a burst the limiter is used and adjusted; a scrape of a just restarted agent has none of
	// its samples: fresh.
	if l, want := m.createLimiter(), (limiterState{processed: 40, gauges: true, parallel: 15, rate: 4.5, burst: 13, factor: 9}); l != want || l.fresh() {
		t.Errorf("limiter after a burst %+v (fresh %v), want %+v, not fresh", l, l.fresh(), want)
	}
	if l := (agentMetrics{{name: "go_goroutines", value: 1}}).createLimiter(); !l.fresh() {
		t.Errorf("limiter of an agent that processed nothing: %+v, want fresh", l)
	}
	if v := m.sum("cilium_label_escape", map[string]string{"path": `a "b", {c}`}); v != 1 {
		t.Errorf("escaped label value not parsed: %v", v)
	}
	if m.sum("go_goroutines", nil) != 312 {
		t.Errorf("unlabelled sample not parsed")
	}
}
