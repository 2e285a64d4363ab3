package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The report's "On a real node" section copies the headline block of make bench-cluster's report
// verbatim, links it (and its chart when there is one) relative to results.md, and says how to get it
// when the file is absent.
func TestReportCopiesRealNodeHeadline(t *testing.T) {
	block := "| conflist | all Ready |\n|---|---|\n| Flannel + cilium-chain | 9.1 s |"
	cases := []struct {
		name      string
		node      string // results-node.md's text; "" = no file
		crash     string // results-node-crash.md's; "" = no file
		png       bool
		want, not []string
	}{
		{name: "absent", want: []string{"## On a real node (make bench-cluster)\n\nnot run yet: `make bench-cluster`\n"}, not: []string{"results-node.md"}},
		{name: "present", node: "# Real node\n\nintro\n" + HeadlineStart + "\n" + block + "\n" + HeadlineEnd + "\n\n## Method\nnot copied\n", png: true,
			want: []string{"[results-node.md](results-node.md)", "[results-node.png](results-node.png)", ":\n\n" + block + "\n\n## Targets"},
			not:  []string{"not copied", "intro", HeadlineStart, "not run yet"}},
		{name: "no chart", node: HeadlineStart + "\n" + block + "\n" + HeadlineEnd + "\n", want: []string{block}, not: []string{"results-node.png"}},
		{name: "no markers", node: "# Real node\n\n" + block + "\n", want: []string{"has no headline block"}, not: []string{block}},
		{name: "with the agent-killed report", node: HeadlineStart + "\n" + block + "\n" + HeadlineEnd + "\n", crash: HeadlineStart + "\n| killed | 0 failed |\n" + HeadlineEnd + "\n",
			want: []string{block, "## On a real node, the agent killed during every burst (make bench-cluster-crash)\n\nCopied from [results-node-crash.md](results-node-crash.md)", "| killed | 0 failed |"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			nodeMD := filepath.Join(dir, "results-node.md")
			if tc.node != "" {
				if err := os.WriteFile(nodeMD, []byte(tc.node), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.crash != "" {
				if err := os.WriteFile(crashReport(nodeMD), []byte(tc.crash), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.png {
				if err := os.WriteFile(filepath.Join(dir, "results-node.png"), []byte("png"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "results.md")
			if err := (&Results{}).WriteMarkdown(out, "results.png", nodeMD); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("report lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("report has %q:\n%s", n, got)
				}
			}
		})
	}
}

func TestSplitCalls(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	call := func(method, path string, start, took int) apiCall {
		return apiCall{Method: method, Path: path, Start: at(start), Took: time.Duration(took) * time.Millisecond}
	}
	cases := []struct {
		name        string
		calls       []apiCall
		create, pre time.Duration
		names       string
	}{
		{"synchronous PUT after GET /config", []apiCall{call("GET", "/v1/config", 0, 2), call("GET", "/v1/config", 3, 2), call("PUT", "/v1/endpoint/cilium-local:0", 6, 90)},
			90 * time.Millisecond, 4 * time.Millisecond, "GET /v1/config ×2, PUT /v1/endpoint/{id}"},
		{"PUT, then polls until regenerated", []apiCall{call("PUT", "/v1/endpoint/cilium-local:0", 10, 5), call("GET", "/v1/endpoint/cni-attachment-id:c:eth0", 16, 1), call("GET", "/v1/endpoint/cni-attachment-id:c:eth0", 30, 1), call("GET", "/v1/endpoint/cni-attachment-id:c:eth0", 70, 2)},
			62 * time.Millisecond, 0, "PUT /v1/endpoint/{id}, GET /v1/endpoint/{id} ×3"},
		{"no PUT", []apiCall{call("GET", "/v1/config", 0, 2)}, 0, 2 * time.Millisecond, "GET /v1/config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			create, pre, names := splitCalls(tc.calls)
			if create != tc.create || pre != tc.pre || names != tc.names {
				t.Errorf("splitCalls = %v, %v, %q; want %v, %v, %q", create, pre, names, tc.create, tc.pre, tc.names)
			}
		})
	}
}
