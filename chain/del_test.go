package chain

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// register puts an endpoint for (cid, eth0) into the fake and records it, as a successful ADD would.
func (e *testEnv) register(c *Call) {
	e.t.Helper()
	req := testRequest(c.ContainerID)
	req.ContainerInterfaceName = c.IfName
	if _, _, err := c.agent.PutEndpoint(context.Background(), req); err != nil {
		e.t.Fatal(err)
	}
	if err := c.store.put(record{ContainerID: c.ContainerID, IfName: c.IfName, State: stateAdded, Updated: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

func TestDelEveryVersion(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			env := newTestEnv(t)
			// DEL carries prevResult from 1.0.0 on, or none; the netns may be gone. None of it matters.
			extra := map[string]any{}
			if v >= "1.0.0" {
				extra["prevResult"] = prevResultFixture(t, v)
			}
			c := env.call(env.conf(v, extra), "cid1", "/var/run/netns/gone-already", "eth0", "")
			env.register(c)
			for i := range 3 { // repeated DELs all succeed
				if err := c.Del(context.Background()); err != nil {
					t.Fatalf("DEL #%d: %v", i+1, err)
				}
			}
			if n := len(env.agent.Endpoints()); n != 0 {
				t.Fatalf("%d endpoints left", n)
			}
			if recs, _ := c.store.list(); len(recs) != 0 {
				t.Fatalf("records left: %v", recs)
			}
			if q := env.queueFiles(); len(q) != 0 {
				t.Fatalf("queued although the agent answered: %v", q)
			}
		})
	}
}

func TestDelQueuesWhenAgentDownThenAgentDrains(t *testing.T) {
	env := newTestEnv(t)
	c := env.call(env.conf("1.0.0", nil), "cid1", "", "eth0", "")
	env.register(c)
	env.agent.Down()

	start := time.Now()
	wantKind(t, c.Del(context.Background()), nil, "")
	// Down means nobody listens: DEL queues at once rather than waiting out del-timeout (500ms here).
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("DEL with the agent down took %v", d)
	}
	files := env.queueFiles()
	if len(files) != 1 {
		t.Fatalf("queue: %v", files)
	}
	content, _ := os.ReadFile(files[0])
	if string(content) != "cni-attachment-id:cid1:eth0" {
		t.Fatalf("queue entry %q: the agent reads a plain endpoint ID", content)
	}
	// A second DEL while down writes the same entry, not a second one.
	wantKind(t, c.Del(context.Background()), nil, "")
	if len(env.queueFiles()) != 1 {
		t.Fatalf("duplicate queue entries: %v", env.queueFiles())
	}

	_ = env.agent.Up()
	n, err := env.agent.DrainQueue(filepath.Join(env.dir, "deleteQueue"))
	if err != nil || n != 1 || len(env.agent.Endpoints()) != 0 || len(env.queueFiles()) != 0 {
		t.Fatalf("drain: n=%d err=%v endpoints=%d queue=%v", n, err, len(env.agent.Endpoints()), env.queueFiles())
	}
}

func TestDelLiveAgentFailureFailsWithoutQueueing(t *testing.T) {
	// A running agent never reads a queue entry written now: its error or slowness must fail DEL
	// (retried by the runtime), and the record and the endpoint stay until a later DEL succeeds.
	cases := []struct {
		name  string
		fault func(a *fakeagent.Agent)
	}{
		{"500 throughout", func(a *fakeagent.Agent) { a.Inject(fakeFault("DELETE", 500, 1000)) }},
		{"429 throughout", func(a *fakeagent.Agent) { a.Inject(fakeFault("DELETE", 429, 1000)) }},
		{"slower than del-timeout", func(a *fakeagent.Agent) { a.SetDelay(2 * time.Second) }},
		{"connection reset throughout", func(a *fakeagent.Agent) {
			a.Inject(fakeagent.Fault{Method: "DELETE", Reset: true, Count: 1000})
		}},
	}
	for _, v := range cniVersions {
		for _, tc := range cases {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				env := newTestEnv(t)
				c := env.call(env.conf(v, nil), "cid1", "", "eth0", "")
				env.register(c)
				tc.fault(env.agent)
				start := time.Now()
				wantKind(t, c.Del(context.Background()), ErrDeleteFailed, "cni-attachment-id:cid1:eth0")
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("DEL took %v with a 500ms del-timeout", d)
				}
				if q := env.queueFiles(); len(q) != 0 {
					t.Fatalf("queued while the agent runs: %v", q)
				}
				if recs, _ := c.store.list(); len(recs) != 1 {
					t.Fatal("the record must stay until the deletion is confirmed")
				}
				env.agent.ClearFaults()
				wantKind(t, c.Del(context.Background()), nil, "")
				if len(env.agent.Endpoints()) != 0 || len(env.queueFiles()) != 0 {
					t.Fatalf("retried DEL: %d endpoints, queue %v", len(env.agent.Endpoints()), env.queueFiles())
				}
			})
		}
	}
}

func TestDelRetriesLiveAgentErrorWithinBudget(t *testing.T) {
	for _, status := range []int{500, 429, 502} {
		t.Run(itoa(status), func(t *testing.T) {
			env := newTestEnv(t)
			c := env.call(env.conf("1.0.0", nil), "cid1", "", "eth0", "")
			env.register(c)
			env.agent.Inject(fakeFault("DELETE", status, 2))
			wantKind(t, c.Del(context.Background()), nil, "")
			if len(env.agent.Endpoints()) != 0 || len(env.queueFiles()) != 0 {
				t.Fatalf("%d endpoints, queue %v", len(env.agent.Endpoints()), env.queueFiles())
			}
		})
	}
}

func TestDelQueuesWhenAgentStartingAnswers503(t *testing.T) {
	env := newTestEnv(t)
	c := env.call(env.conf("1.0.0", nil), "cid1", "", "eth0", "")
	env.register(c)
	env.agent.Inject(fakeFault("DELETE", 503, 1000)) // restoring: answers, cannot act yet
	wantKind(t, c.Del(context.Background()), nil, "")
	if len(env.queueFiles()) != 1 {
		t.Fatalf("a starting agent's 503 must queue: %v", env.queueFiles())
	}
}

func TestDelFailsOnlyIfItCannotQueue(t *testing.T) {
	env := newTestEnv(t)
	// A file where the queue dir should be: neither delete (agent down) nor queue is possible.
	blocker := filepath.Join(env.dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := env.call(env.conf("1.0.0", map[string]any{"delete-queue-dir": blocker}), "cid1", "", "eth0", "")
	env.agent.Down()
	wantKind(t, c.Del(context.Background()), ErrDeleteFailed, "cni-attachment-id:cid1:eth0")
}

func TestDelWaitsForAgentHoldingQueueLock(t *testing.T) {
	env := newTestEnv(t)
	qdir := filepath.Join(env.dir, "deleteQueue")
	os.MkdirAll(qdir, 0o755)
	f, err := os.OpenFile(filepath.Join(qdir, "lockfile"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// The agent holds the queue exclusively while it starts.
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &unix.Flock_t{Type: unix.F_WRLCK}); err != nil {
		t.Fatal(err)
	}
	c := env.call(env.conf("1.0.0", nil), "cid1", "", "eth0", "")
	env.agent.Down()
	wantKind(t, c.Del(context.Background()), ErrDeleteFailed, "lock")

	// Released within the budget: the DEL gets through.
	time.AfterFunc(100*time.Millisecond, func() { f.Close() })
	wantKind(t, c.Del(context.Background()), nil, "")
	if len(env.queueFiles()) != 1 {
		t.Fatalf("queue: %v", env.queueFiles())
	}
}

func TestDelManyConcurrentWhileAgentDown(t *testing.T) {
	// More than upstream's 256-entry cap, from concurrent writers: every DEL succeeds, one entry each.
	env := newTestEnv(t)
	env.agent.Down()
	conf := env.conf("1.0.0", map[string]any{"del-timeout": "100ms"})
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	sem := make(chan struct{}, 16)
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := env.call(conf, "cid"+itoa(i), "", "eth0", "")
			errs <- c.Del(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(env.queueFiles()); n != 300 {
		t.Fatalf("%d queue entries, want 300", n)
	}
}

func TestDelRetriesLiveAgentBeforeQueueing(t *testing.T) {
	env := newTestEnv(t)
	c := env.call(env.conf("1.0.0", nil), "cid1", "", "eth0", "")
	env.register(c)
	env.agent.Inject(fakeFault("DELETE", 503, 2)) // starting up: answers, not ready yet
	wantKind(t, c.Del(context.Background()), nil, "")
	if len(env.agent.Endpoints()) != 0 || len(env.queueFiles()) != 0 {
		t.Fatalf("a live agent's 503 is retried, not queued: %d endpoints, queue %v", len(env.agent.Endpoints()), env.queueFiles())
	}
}

func TestDelSocketPathNotASocketQueues(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			env := newTestEnv(t)
			dir := filepath.Join(env.dir, "sock-dir")
			_ = os.Mkdir(dir, 0o755)
			c := env.call(env.conf(v, map[string]any{"socket-path": dir}), "cid1", "", "eth0", "")
			wantKind(t, c.Del(context.Background()), nil, "")
			if len(env.queueFiles()) != 1 {
				t.Fatalf("queue: %v", env.queueFiles())
			}
		})
	}
}

func TestDelQueueIgnoresAndCleansTempFilesOfKilledWriters(t *testing.T) {
	env := newTestEnv(t)
	qdir := filepath.Join(env.dir, "deleteQueue")
	_ = os.MkdirAll(qdir, 0o755)
	// More temp files than the queue bound, as killed DELs leave them, and one of a live writer.
	old := time.Now().Add(-time.Hour)
	for i := range maxQueueEntries + 1 {
		f := filepath.Join(qdir, ".tmp-x.delete-"+itoa(i))
		_ = os.WriteFile(f, []byte("cni-attachment-id:x:eth0"), 0o644)
		_ = os.Chtimes(f, old, old)
	}
	young := filepath.Join(qdir, ".tmp-y.delete-live")
	_ = os.WriteFile(young, nil, 0o644)
	env.agent.Down()
	wantKind(t, env.call(env.conf("1.0.0", nil), "cid1", "", "eth0", "").Del(context.Background()), nil, "")
	left, _ := filepath.Glob(filepath.Join(qdir, ".tmp-*"))
	if len(env.queueFiles()) != 1 || len(left) != 1 || left[0] != young {
		t.Fatalf("queue %v, temp files left %d (want only the live writer's)", env.queueFiles(), len(left))
	}
}
