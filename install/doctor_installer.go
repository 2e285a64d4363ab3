package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

const areaInstaller = "installer"

// checkInstaller asks the installer's readiness endpoint (hostNetwork: the node's loopback) why it
// is or is not ready, and reports when it last wrote our files.
func (d *doctor) checkInstaller(ctx context.Context) {
	if d.cfg.readyAddr == "" {
		d.r.warn(areaInstaller, "readiness", "--ready-addr is empty: the installer's state cannot be asked", "")
	} else {
		d.checkReadyz(ctx, "http://"+d.cfg.readyAddr+"/readyz")
	}
	var writes []string
	for _, f := range []struct{ what, path string }{{"conflist", d.cfg.confPath()}, {"binary", d.cfg.binaryPath()}} {
		st, err := os.Stat(f.path)
		if err != nil {
			writes = append(writes, fmt.Sprintf("%s %s absent", f.what, f.path))
			continue
		}
		writes = append(writes, fmt.Sprintf("%s written %s (%s ago)", f.what, st.ModTime().UTC().Format(time.RFC3339), time.Since(st.ModTime()).Round(time.Second)))
	}
	d.r.ok(areaInstaller, "last write", strings.Join(writes, "; "))
}

func (d *doctor) checkReadyz(ctx context.Context, url string) {
	ctx, cancel := d.ctxFor(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		d.r.fail(areaInstaller, "readiness", err.Error(), "")
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.r.warn(areaInstaller, "readiness", fmt.Sprintf("no answer from %s: %v", url, err),
			"is the cilium-chain pod running on this node (kubectl -n kube-system get pods -l app.kubernetes.io/name=cilium-chain -o wide)?")
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		d.r.fail(areaInstaller, "readiness", fmt.Sprintf("%s answers %d: %s", url, resp.StatusCode, text), "see the installer's log: kubectl -n kube-system logs ds/cilium-chain")
		return
	}
	d.r.ok(areaInstaller, "readiness", "ready ("+url+")")
}
