//go:build cluster && clusterbench

package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// benchMetricsAddr is node 1's agent's Prometheus listener in bench mode (Cilium's default port, on
// the node's own loopback).
const benchMetricsAddr = "127.0.0.1:9962"

// The agent's metrics the bench reads (names and labels as v1.20.2 registers them: pkg/metrics,
// pkg/rate/metrics, pkg/metrics/middleware.go).
const (
	// API calls through the rate limiter, by api_call ("endpoint-create" = PUT /endpoint/{id},
	// "endpoint-get" = GET /endpoint/{id} and its subpaths), outcome and return code (429 when refused).
	metricLimiterProcessed = "cilium_api_limiter_processed_requests_total"
	// each endpoint regeneration, scope "total" is the whole of it
	metricRegeneration = "cilium_endpoint_regeneration_time_stats_seconds"
	// every API call by short path ("/v1/endpoint"), method and return code, limiter wait included
	metricAPITime = "cilium_agent_api_process_time_seconds"
	// the limiter's gauges per API call: mean wait and processing time of its last 10 successful
	// requests (value "mean"), and its auto-adjusted parallel limit (requests_in_flight, "limit")
	metricLimiterWait       = "cilium_api_limiter_wait_duration_seconds"
	metricLimiterProcessing = "cilium_api_limiter_processing_duration_seconds"
	metricLimiterInFlight   = "cilium_api_limiter_requests_in_flight"
	// the limiter's rate ("limit", per second) and "burst", and its auto-adjustment factor
	metricLimiterRate   = "cilium_api_limiter_rate_limit"
	metricLimiterFactor = "cilium_api_limiter_adjustment_factor"
	// each request's wait in the limiter; off by default, the bench turns it on (benchAgentFlags)
	metricLimiterWaitHistory = "cilium_api_limiter_wait_history_duration_seconds"
)

// benchAgentFlags are what node 1's agent gets on top of the harness's flags: its metrics on the
// node's own loopback, the limiter's wait histogram among them. The API rate limits stay the defaults.
var benchAgentFlags = []string{"--prometheus-serve-addr=" + benchMetricsAddr, "--metrics=+" + metricLimiterWaitHistory}

// sampleLine is one metric sample of the Prometheus text format.
type sampleLine struct {
	name   string
	labels map[string]string
	value  float64
}

// agentMetrics is one scrape.
type agentMetrics []sampleLine

func scrapeAgentMetrics() (agentMetrics, error) {
	body, err := httpGet("http://" + benchMetricsAddr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("agent metrics: %w", err)
	}
	return parseMetrics(body)
}

// parseMetrics reads the text exposition format: `name{k="v",…} value`, comments skipped.
func parseMetrics(text string) (agentMetrics, error) {
	var out agentMetrics
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		s := sampleLine{labels: map[string]string{}}
		rest := l
		if i := strings.IndexAny(l, "{ "); i >= 0 && l[i] == '{' {
			s.name = l[:i]
			var err error
			if rest, err = parseLabels(l[i+1:], s.labels); err != nil {
				return nil, fmt.Errorf("metric line %q: %w", l, err)
			}
		} else {
			s.name, rest, _ = strings.Cut(l, " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metric line %q has no value", l)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", l, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, nil
}

// parseLabels reads `k="v",…}` into into and returns what follows the closing brace.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, ", ")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		key, rest, ok := strings.Cut(s, `="`)
		if !ok {
			return "", fmt.Errorf("label without a quoted value at %q", s)
		}
		var val strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				if rest[i] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(rest[i])
		}
		if i == len(rest) {
			return "", fmt.Errorf("unterminated value of label %s", key)
		}
		into[key] = val.String()
		s = rest[i+1:]
	}
}

// sum adds the samples of name whose labels include every pair of match.
func (m agentMetrics) sum(name string, match map[string]string) float64 {
	var total float64
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// agentFigures are a round's share of the agent's counters (after − before).
type agentFigures struct {
	createProcessed float64 // PUT /endpoint calls the limiter let through or refused
	create429       float64 // refused: 429 Too Many Requests
	getProcessed    float64 // GET /endpoint/{id} calls (cilium-chain's wait for the first regeneration)
	get429          float64 // refused: 429
	regenCount      float64 // endpoint regenerations
	regenSum        float64 // their summed duration, seconds (scope total)
	putCount        float64 // PUT /v1/endpoint answered (any code)
	putSum          float64 // seconds, from request to answer, limiter wait included
	waitSum         float64 // seconds the PUTs waited in the limiter (its wait histogram)
	// gauges at the end of the phase (not differences)
	waitMean, processingMean float64 // seconds, the limiter's last 10 PUTs
	parallelLimit            float64
}

func figuresBetween(before, after agentMetrics) agentFigures {
	d := func(name string, match map[string]string) float64 {
		return after.sum(name, match) - before.sum(name, match)
	}
	create := map[string]string{"api_call": "endpoint-create"}
	put := map[string]string{"path": "/v1/endpoint", "method": "PUT"}
	regen := map[string]string{"scope": "total"}
	return agentFigures{
		createProcessed: d(metricLimiterProcessed, create),
		create429:       d(metricLimiterProcessed, map[string]string{"api_call": "endpoint-create", "return_code": "429"}),
		getProcessed:    d(metricLimiterProcessed, map[string]string{"api_call": "endpoint-get"}),
		get429:          d(metricLimiterProcessed, map[string]string{"api_call": "endpoint-get", "return_code": "429"}),
		regenCount:      d(metricRegeneration+"_count", regen),
		regenSum:        d(metricRegeneration+"_sum", regen),
		putCount:        d(metricAPITime+"_count", put),
		putSum:          d(metricAPITime+"_sum", put),
		waitSum:         d(metricLimiterWaitHistory+"_sum", create),
		waitMean:        after.sum(metricLimiterWait, map[string]string{"api_call": "endpoint-create", "value": "mean"}),
		processingMean:  after.sum(metricLimiterProcessing, map[string]string{"api_call": "endpoint-create", "value": "mean"}),
		parallelLimit:   after.sum(metricLimiterInFlight, map[string]string{"api_call": "endpoint-create", "value": "limit"}),
	}
}

// plus adds g's counters to f's and takes g's gauges: the figures of an agent killed mid-phase (f, up
// to its last scrape) and of the one started after it (g).
func (f agentFigures) plus(g agentFigures) agentFigures {
	g.createProcessed += f.createProcessed
	g.create429 += f.create429
	g.getProcessed += f.getProcessed
	g.get429 += f.get429
	g.regenCount += f.regenCount
	g.regenSum += f.regenSum
	g.putCount += f.putCount
	g.putSum += f.putSum
	g.waitSum += f.waitSum
	return g
}

// limiterState is the endpoint-create limiter as one scrape shows it: how many requests it has
// processed since the agent started and, once it processed one, its gauges. A limiter that
// processed none is at its configured defaults (defaultCreateLimiter) and has no gauges yet.
type limiterState struct {
	processed                     float64
	gauges                        bool
	parallel, rate, burst, factor float64
}

// defaultCreateLimiter is endpoint-create's configuration in v1.20.2 (daemon/restapi/api_limits.go):
// 4 parallel, 0.5/s, burst 4.
var defaultCreateLimiter = limiterState{parallel: 4, rate: 0.5, burst: 4}

func (m agentMetrics) createLimiter() limiterState {
	create := map[string]string{"api_call": "endpoint-create"}
	g := func(name, value string) float64 {
		return m.sum(name, map[string]string{"api_call": "endpoint-create", "value": value})
	}
	s := limiterState{processed: m.sum(metricLimiterProcessed, create)}
	for _, x := range m {
		s.gauges = s.gauges || (x.name == metricLimiterInFlight && x.labels["api_call"] == "endpoint-create")
	}
	if !s.gauges {
		return s
	}
	s.parallel, s.rate, s.burst = g(metricLimiterInFlight, "limit"), g(metricLimiterRate, "limit"), g(metricLimiterRate, "burst")
	s.factor = m.sum(metricLimiterFactor, create)
	return s
}

// fresh: the limiter has processed nothing since the agent started, so it runs on its defaults.
func (s limiterState) fresh() bool { return s.processed == 0 && !s.gauges }

func (s limiterState) String() string {
	if !s.gauges {
		return fmt.Sprintf("%d processed, no gauges (fresh)", int(s.processed))
	}
	return fmt.Sprintf("%d processed; %g parallel, %.2f/s, burst %g, factor %.2f", int(s.processed), s.parallel, s.rate, s.burst, s.factor)
}
