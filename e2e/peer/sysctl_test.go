package peer

import (
	"os"
	"strings"
	"testing"
)

// Restore puts back a changed sysctl and leaves unchanged ones alone. It uses
// kernel.timer_migration, which the agent changes too, and flips it for a moment.
func TestSysctlsRestore(t *testing.T) {
	const name = "kernel/timer_migration"
	saved := SaveSysctls([]string{name, "kernel/no-such-sysctl"})
	before, ok := saved[name]
	if !ok {
		t.Skip("no /proc/sys/kernel/timer_migration here")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to write a sysctl")
	}
	if restored, stuck, err := saved.Restore(); len(restored)+len(stuck) != 0 || err != nil {
		t.Fatalf("nothing changed, yet restored %v stuck %v err %v", restored, stuck, err)
	}
	flipped := map[string]string{"0": "1", "1": "0"}[before]
	if err := os.WriteFile("/proc/sys/"+name, []byte(flipped), 0o644); err != nil {
		t.Fatal(err)
	}
	restored, _, err := saved.Restore()
	now, _ := os.ReadFile("/proc/sys/" + name)
	if err != nil || len(restored) != 1 || strings.TrimSpace(string(now)) != before {
		t.Fatalf("restore: %v %v; now %q, want %q", restored, err, now, before)
	}
}
