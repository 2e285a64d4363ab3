//go:build cluster && clusterbench

package cluster

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"
)

// criCalls are the CRI calls containerd v2.2.1 logs at info level (internal/cri/instrument):
// "RunPodSandbox for <metadata>" when a call starts, then "... returns sandbox id \"<id>\"" or
// "... failed, error"; "StopPodSandbox for \"<id>\"" then "... returns successfully" or "... failed".
// The metadata is the protobuf text form: name:\"…\" uid:\"…\" namespace:\"…\".
type criCalls struct {
	runStart  map[string]time.Time // pod UID → first RunPodSandbox
	runDone   map[string]time.Time // pod UID → the RunPodSandbox that returned a sandbox
	sandbox   map[string]string    // pod UID → its sandbox ID
	runFailed map[string]int       // pod UID → failed RunPodSandbox calls
	stopStart map[string]time.Time // sandbox ID → first StopPodSandbox
	stopDone  map[string]time.Time // sandbox ID → first successful return
	stopFail  map[string]int
}

var (
	criLine    = regexp.MustCompile(`^time="([^"]+)" level=\w+ msg="(RunPodSandbox|StopPodSandbox) for ((?:[^"\\]|\\.)*)"`)
	criUID     = regexp.MustCompile(`uid:\\"([^\\]+)\\"`)
	criRunDone = regexp.MustCompile(`returns sandbox id \\"([0-9a-f]+)\\"$`)
	criRunFail = regexp.MustCompile(`failed, error$`)
	criStopID  = regexp.MustCompile(`^\\"([0-9a-f]+)\\"( returns successfully| failed)?$`)
)

// readCRICalls parses containerd's log from offset on.
func readCRICalls(path string, offset int64) (*criCalls, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	c := &criCalls{runStart: map[string]time.Time{}, runDone: map[string]time.Time{}, sandbox: map[string]string{},
		runFailed: map[string]int{}, stopStart: map[string]time.Time{}, stopDone: map[string]time.Time{}, stopFail: map[string]int{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		m := criLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			return nil, fmt.Errorf("containerd log time %q: %w", m[1], err)
		}
		rest := m[3]
		if m[2] == "RunPodSandbox" {
			uid := criUID.FindStringSubmatch(rest)
			if uid == nil {
				continue
			}
			switch id := criRunDone.FindStringSubmatch(rest); {
			case id != nil:
				if _, seen := c.runDone[uid[1]]; !seen {
					c.runDone[uid[1]], c.sandbox[uid[1]] = at, id[1]
				}
			case criRunFail.MatchString(rest):
				c.runFailed[uid[1]]++
			default:
				if _, seen := c.runStart[uid[1]]; !seen {
					c.runStart[uid[1]] = at
				}
			}
			continue
		}
		s := criStopID.FindStringSubmatch(rest)
		if s == nil {
			continue
		}
		switch s[2] {
		case "":
			if _, seen := c.stopStart[s[1]]; !seen {
				c.stopStart[s[1]] = at
			}
		case " returns successfully":
			if _, seen := c.stopDone[s[1]]; !seen {
				c.stopDone[s[1]] = at
			}
		default:
			c.stopFail[s[1]]++
		}
	}
	return c, sc.Err()
}

// logSize is where a round's lines start.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
