//go:build cluster

package cluster

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// nonLoopbackListeners lists the TCP sockets listening, and UDP sockets bound, on anything but
// loopback in the node netns (the test's own): the whole cluster must listen on 127.0.0.1/::1 only.
// Pods' sockets are in their own netns and not seen here.
func nonLoopbackListeners() ([]string, error) {
	var bad []string
	for _, f := range []struct {
		path  string
		state string // TCP_LISTEN is 0A; UDP sockets are all "07" (unconnected)
	}{{"/proc/net/tcp", "0A"}, {"/proc/net/tcp6", "0A"}, {"/proc/net/udp", "07"}, {"/proc/net/udp6", "07"}} {
		entries, err := procNetSockets(f.path, f.state)
		if err != nil {
			return nil, err
		}
		for _, addr := range entries {
			if !addr.IP.IsLoopback() {
				bad = append(bad, fmt.Sprintf("%s %s", strings.TrimPrefix(f.path, "/proc/net/"), addr))
			}
		}
	}
	return bad, nil
}

func procNetSockets(path, state string) ([]*net.TCPAddr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	var out []*net.TCPAddr
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != state {
			continue
		}
		addr, err := parseProcAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, addr)
	}
	return out, sc.Err()
}

// parseProcAddr decodes "0100007F:1F90": the address in host-order 32-bit words, the port in hex.
func parseProcAddr(s string) (*net.TCPAddr, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, err
	}
	ip := make(net.IP, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return &net.TCPAddr{IP: ip, Port: int(port)}, nil
}
