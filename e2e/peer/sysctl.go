package peer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AgentSysctls are the machine-wide sysctls cilium-agent v1.20.2 sets at start whatever netns it runs
// in ((*loader).Reinitialize in pkg/datapath/loader/base.go: net.core.bpf_jit_enable=1,
// kernel.unprivileged_bpf_disabled=1, kernel.timer_migration=0); per-netns ones go with the node netns.
var AgentSysctls = []string{"net/core/bpf_jit_enable", "kernel/unprivileged_bpf_disabled", "kernel/timer_migration"}

// Sysctls are recorded values of sysctls, by path under /proc/sys.
type Sysctls map[string]string

// SaveSysctls records the current values of names (paths under /proc/sys, e.g. "kernel/panic").
func SaveSysctls(names []string) Sysctls {
	s := Sysctls{}
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", n)); err == nil {
			s[n] = strings.TrimSpace(string(b))
		}
	}
	return s
}

// Restore writes back every recorded value that changed and returns what it restored. One change
// cannot be undone by design: kernel.unprivileged_bpf_disabled=1 admits no way back until reboot;
// that one is reported in stuck, not as an error.
func (s Sysctls) Restore() (restored, stuck []string, err error) {
	var errs []error
	for n, before := range s {
		path := filepath.Join("/proc/sys", n)
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			errs = append(errs, rerr)
			continue
		}
		now := strings.TrimSpace(string(b))
		if now == before {
			continue
		}
		what := fmt.Sprintf("%s: %s → %s", strings.ReplaceAll(n, "/", "."), now, before)
		if n == "kernel/unprivileged_bpf_disabled" && now == "1" {
			stuck = append(stuck, what+" (cannot be undone until reboot)")
			continue
		}
		if werr := os.WriteFile(path, []byte(before), 0o644); werr != nil {
			errs = append(errs, fmt.Errorf("restore sysctl %s: %w", what, werr))
			continue
		}
		restored = append(restored, what)
	}
	return restored, stuck, errors.Join(errs...)
}
