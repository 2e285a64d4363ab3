//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// startEtcd runs Debian's etcd inside the node netns with its own data dir and waits for health.
func startEtcd(t *testing.T, n *node, dir string) *proc {
	t.Helper()
	killStale(t, "etcd")
	argv := n.exec(append([]string{"etcd"}, peer.EtcdArgs("cchain-e2e", filepath.Join(dir, "etcd"))...)...)
	p := startProc(t, "etcd", filepath.Join(dir, "etcd.log"), nil, argv...)
	t.Cleanup(func() {
		if err := p.stop(10 * time.Second); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	client := nsHTTPClient(n.ns)
	err := peer.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		if done, werr := p.Exited(); done {
			return fmt.Errorf("etcd exited: %v", werr)
		}
		resp, err := client.Get(peer.EtcdURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd health %d: %s", resp.StatusCode, body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("etcd not healthy: %v\n%s", err, p.LogTail(40))
	}
	return p
}

// nsHTTPClient is an HTTP client whose connections are opened inside the netns.
func nsHTTPClient(name netnsName) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(name, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}
