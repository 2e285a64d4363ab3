package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/sirupsen/logrus"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

var cniVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// testEnv is a fake agent plus the directories a call needs, all removed at the end of the test.
type testEnv struct {
	t     testing.TB
	agent *fakeagent.Agent
	dir   string
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	agent, dir := fakeagent.StartTemp(t)
	return &testEnv{t: t, agent: agent, dir: dir}
}

// conf returns a plugin config for cniVersion pointing at the env, with extra keys merged in.
func (e *testEnv) conf(cniVersion string, extra map[string]any) []byte {
	m := map[string]any{
		"cniVersion":       cniVersion,
		"name":             "testnet",
		"type":             "cilium-chain",
		"socket-path":      e.agent.Socket(),
		"delete-queue-dir": filepath.Join(e.dir, "deleteQueue"),
		"state-dir":        filepath.Join(e.dir, "state"),
		"add-timeout":      "2s",
		"del-timeout":      "500ms",
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// call builds a Call for cniVersion, as plugin/ would.
func (e *testEnv) call(stdin []byte, containerID, netns, ifname, cniArgs string) *Call {
	e.t.Helper()
	conf, err := LoadConfig(stdin, func(string) string { return "" })
	if err != nil {
		e.t.Fatalf("LoadConfig: %v", err)
	}
	c, err := NewCall(conf, containerID, netns, ifname, cniArgs, testLog(e.t))
	if err != nil {
		e.t.Fatalf("NewCall: %v", err)
	}
	c.agent.minBackoff, c.agent.maxBackoff = 5*time.Millisecond, 50*time.Millisecond
	return c
}

func (e *testEnv) queueFiles() []string {
	files, _ := filepath.Glob(filepath.Join(e.dir, "deleteQueue", "*.delete"))
	return files
}

func testLog(t testing.TB) *logrus.Entry {
	log := logrus.New()
	log.SetOutput(testWriter{t})
	log.SetLevel(logrus.DebugLevel)
	return logrus.NewEntry(log)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// prevResultFixture returns testdata/prevresult/flannel-<v>.json, decoded for embedding in a config.
func prevResultFixture(t *testing.T, v string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "prevresult", "flannel-"+v+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantKind(t *testing.T, err, kind error, msgPart string) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %v: want kind %q", err, kind)
	}
	if msgPart != "" && !strings.Contains(err.Error(), msgPart) {
		t.Fatalf("error %q does not mention %q", err, msgPart)
	}
}

// sentPut is the body of the last PUT /endpoint the fake served.
func sentPut(t *testing.T, reqs []fakeagent.Request) models.EndpointChangeRequest {
	t.Helper()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == "PUT" {
			var sent models.EndpointChangeRequest
			if err := json.Unmarshal(reqs[i].Body, &sent); err != nil {
				t.Fatalf("PUT body: %v", err)
			}
			return sent
		}
	}
	t.Fatalf("no PUT among %v", requestLines(reqs))
	return models.EndpointChangeRequest{}
}

// requestLines is "METHOD path status" per request, for failure messages.
func requestLines(reqs []fakeagent.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status)
	}
	return out
}
