package peer

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// HubbleFlow is the part of one `hubble observe -o json` line the tests read.
type HubbleFlow struct {
	Flow struct {
		Verdict          string                               `json:"verdict"`
		DropReasonDesc   string                               `json:"drop_reason_desc"`
		TrafficDirection string                               `json:"traffic_direction"`
		Source           HubblePeer                           `json:"source"`
		Destination      HubblePeer                           `json:"destination"`
		IP               struct{ Source, Destination string } `json:"IP"`
		L4               struct {
			TCP *struct {
				DestinationPort int `json:"destination_port"`
			} `json:"TCP"`
		} `json:"l4"`
	} `json:"flow"`
	NodeName string `json:"node_name"`
}

// HubblePeer is one end of a flow as Hubble names it.
type HubblePeer struct {
	Namespace string   `json:"namespace"`
	PodName   string   `json:"pod_name"`
	Identity  int64    `json:"identity"`
	Labels    []string `json:"labels"`
}

func (f *HubbleFlow) String() string {
	port := 0
	if f.Flow.L4.TCP != nil {
		port = f.Flow.L4.TCP.DestinationPort
	}
	s := fmt.Sprintf("%s/%s (%s) → %s/%s (%s):%d %s", f.Flow.Source.Namespace, f.Flow.Source.PodName, f.Flow.IP.Source,
		f.Flow.Destination.Namespace, f.Flow.Destination.PodName, f.Flow.IP.Destination, port, f.Flow.Verdict)
	if f.Flow.DropReasonDesc != "" {
		s += " " + f.Flow.DropReasonDesc
	}
	return s
}

// HubbleObserve runs the Hubble CLI against an agent's observer socket and decodes its JSON lines:
// the flows still in the agent's ring buffer, filtered by the CLI's own flags (e.g. --to-pod).
func HubbleObserve(hubble, sock string, filters ...string) ([]HubbleFlow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"observe", "--server", "unix://" + sock, "-o", "json", "--last", "4000"}, filters...)
	out, err := exec.CommandContext(ctx, hubble, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return nil, fmt.Errorf("hubble %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	var flows []HubbleFlow
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var f HubbleFlow
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return nil, fmt.Errorf("hubble json %q: %w", sc.Text(), err)
		}
		flows = append(flows, f)
	}
	return flows, sc.Err()
}

// FindFlow returns the first flow from srcIP to dstIP on TCP port with verdict (and, if not empty,
// drop reason), or nil.
func FindFlow(flows []HubbleFlow, srcIP, dstIP string, port int, verdict, dropReason string) *HubbleFlow {
	for i := range flows {
		f := &flows[i].Flow
		if f.IP.Source != srcIP || f.IP.Destination != dstIP {
			continue
		}
		if f.L4.TCP == nil || f.L4.TCP.DestinationPort != port || f.Verdict != verdict {
			continue
		}
		if dropReason != "" && f.DropReasonDesc != dropReason {
			continue
		}
		return &flows[i]
	}
	return nil
}
