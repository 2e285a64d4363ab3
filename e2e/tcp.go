//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// serveTCP listens on ip:port inside the pod's netns and answers every connection with the pod's
// name: a reply proves the connection really reached that pod.
func serveTCP(t *testing.T, p *pod, port int) {
	t.Helper()
	addr := net.JoinHostPort(p.ip.String(), fmt.Sprint(port))
	var ln net.Listener
	err := inNetns(p.ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s on %s: %v", p, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed in cleanup
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "hello from %s\n", p.name)
			c.Close()
		}
	}()
}

// noAnswer is a connection attempt that got no answer at all: what a policy drop looks like.
type noAnswer struct{ what string }

func (e *noAnswer) Error() string { return e.what + ": no answer (timed out)" }

// dialTCP connects from the src pod's netns to dst:port and expects dst's greeting.
func dialTCP(src, dst *pod, port int, timeout time.Duration) error {
	addr := net.JoinHostPort(dst.ip.String(), fmt.Sprint(port))
	var c net.Conn
	err := inNetns(src.ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp4", addr, timeout)
		return err
	})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &noAnswer{what: fmt.Sprintf("%s → %s", src, addr)}
		}
		return fmt.Errorf("%s → %s: %w", src, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s → %s: connected but no greeting: %w", src, addr, err)
	}
	if want := "hello from " + dst.name; strings.TrimSpace(line) != want {
		return fmt.Errorf("%s → %s: got %q, want %q", src, addr, line, want)
	}
	return nil
}

// expectAllowed retries briefly: the first packets of a new flow can race the datapath settling.
func expectAllowed(t *testing.T, src, dst *pod, port int) {
	t.Helper()
	err := peer.Eventually(10*time.Second, 200*time.Millisecond, func() error { return dialTCP(src, dst, port, 2*time.Second) })
	if err != nil {
		t.Errorf("%s → %s:%d should be allowed: %v", src, dst, port, err)
		return
	}
	t.Logf("%s → %s:%d allowed (greeting received)", src, dst, port)
}

// expectDenied needs the SYN to go unanswered: a refused connection would mean the packet got through.
func expectDenied(t *testing.T, src, dst *pod, port int) {
	t.Helper()
	err := dialTCP(src, dst, port, 3*time.Second)
	if err == nil {
		t.Errorf("%s → %s:%d should be denied, but connected", src, dst, port)
		return
	}
	var na *noAnswer
	if !errors.As(err, &na) {
		t.Errorf("%s → %s:%d should be dropped silently by policy, got: %v", src, dst, port, err)
		return
	}
	t.Logf("%s → %s:%d denied (%v)", src, dst, port, err)
}
