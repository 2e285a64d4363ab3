//go:build cluster

package cluster

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// nodeLink is the nodes' private link (nsinit.sh): the apiserver and node 2's kubelet listen there.
var nodeLink = netip.MustParsePrefix("10.99.0.0/24")

// nonLocalListeners lists the TCP sockets listening, and UDP sockets bound, in the node's netns on
// anything but loopback or the nodes' private link: the cluster must listen only on 127.0.0.1/::1
// and its own link, never on a wildcard address. Pods' sockets are in their own netns and not seen
// here.
func (n *node) nonLocalListeners() ([]string, error) {
	if n.holder == 0 {
		return listenersBeyondLink("/proc/net")
	}
	return listenersBeyondLink(fmt.Sprintf("/proc/%d/net", n.holder))
}

func listenersBeyondLink(procNet string) ([]string, error) {
	var bad []string
	for _, f := range []struct {
		name  string
		state string // TCP_LISTEN is 0A; UDP sockets are all "07" (unconnected)
	}{{"tcp", "0A"}, {"tcp6", "0A"}, {"udp", "07"}, {"udp6", "07"}} {
		entries, err := procNetSockets(procNet+"/"+f.name, f.state)
		if err != nil {
			return nil, err
		}
		for _, addr := range entries {
			ip, _ := netip.AddrFromSlice(addr.IP)
			if !addr.IP.IsLoopback() && !nodeLink.Contains(ip.Unmap()) {
				bad = append(bad, fmt.Sprintf("%s %s", f.name, addr))
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
