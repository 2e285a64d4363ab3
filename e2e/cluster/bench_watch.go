//go:build cluster && clusterbench

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// podWatch follows `kubectl get pods --watch --output-watch-events -o json` and notes when each pod
// whose name starts with prefix was first seen Ready and when it was deleted, by the test's clock:
// a watch, not polling, so the times are not quantised by a poll period and the API server is not
// loaded with lists.
type podWatch struct {
	prefix string
	cmd    *exec.Cmd
	done   chan struct{}

	mu      sync.Mutex
	pods    map[string]*watchedPod // by name
	changed chan struct{}
	err     error
}

type watchedPod struct {
	name, uid          string
	readyAt, deletedAt time.Time
}

func (c *cluster) watchPods(selector, prefix string) (*podWatch, error) {
	w := &podWatch{prefix: prefix, done: make(chan struct{}), pods: map[string]*watchedPod{}, changed: make(chan struct{}, 1)}
	w.cmd = exec.Command("kubectl", c.k.args([]string{"get", "pods", "-l", selector, "--watch", "--output-watch-events", "-o", "json"})...)
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	go w.read(out)
	return w, nil
}

func (w *podWatch) read(r io.Reader) {
	defer close(w.done)
	dec := json.NewDecoder(r)
	for {
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				Metadata struct {
					Name, UID string
				} `json:"metadata"`
				podStatus
			} `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			w.mu.Lock()
			if err != io.EOF {
				w.err = err
			}
			w.mu.Unlock()
			return
		}
		now, obj := time.Now(), &ev.Object
		if !strings.HasPrefix(obj.Metadata.Name, w.prefix) {
			continue
		}
		w.mu.Lock()
		p := w.pods[obj.Metadata.Name]
		if p == nil {
			p = &watchedPod{name: obj.Metadata.Name, uid: obj.Metadata.UID}
			w.pods[p.name] = p
		}
		if p.readyAt.IsZero() && obj.podStatus.isReady() {
			p.readyAt = now
		}
		if ev.Type == "DELETED" {
			p.deletedAt = now
		}
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

// waitReady returns once n pods are Ready, or why not (ctx ended, kubectl's watch broke).
func (w *podWatch) waitReady(ctx context.Context, n int) error {
	return w.wait(ctx, "Ready", func(p *watchedPod) bool { return !p.readyAt.IsZero() }, n)
}

// waitDeleted returns once every pod seen (at least n) is deleted.
func (w *podWatch) waitDeleted(ctx context.Context, n int) error {
	return w.wait(ctx, "deleted", func(p *watchedPod) bool { return !p.deletedAt.IsZero() }, max(n, w.seen()))
}

func (w *podWatch) wait(ctx context.Context, what string, is func(*watchedPod) bool, n int) error {
	for {
		if w.count(is) >= n {
			return nil
		}
		select {
		case <-w.changed:
		case <-w.done:
			w.mu.Lock()
			err := w.err
			w.mu.Unlock()
			return fmt.Errorf("kubectl's watch ended (%v) with %d of %d pods %s", err, w.count(is), n, what)
		case <-ctx.Done():
			return fmt.Errorf("%d of %d pods %s: %w", w.count(is), n, what, ctx.Err())
		}
	}
}

func (w *podWatch) seen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pods)
}

func (w *podWatch) count(is func(*watchedPod) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, p := range w.pods {
		if is(p) {
			n++
		}
	}
	return n
}

// stop ends kubectl (the process this watch started) and returns the pods it saw.
func (w *podWatch) stop() []*watchedPod {
	_ = w.cmd.Process.Kill()
	<-w.done
	_ = w.cmd.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*watchedPod, 0, len(w.pods))
	for _, p := range w.pods {
		out = append(out, p)
	}
	return out
}
