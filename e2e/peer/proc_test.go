package peer

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The two ways Stop ends a process, and what it reports for each: the harnesses tell a clean stop
// from a kill by that error.
func TestStop(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	polite, err := Start("polite", filepath.Join(dir, "polite.log"), nil, "sh", "-c", "echo up; exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	waitUp(t, polite)
	if err := polite.Stop(5 * time.Second); err != nil {
		t.Errorf("stop after SIGTERM: %v", err)
	}
	if done, _ := polite.Exited(); !done {
		t.Errorf("not exited after Stop")
	}
	if err := polite.Stop(time.Second); err != nil {
		t.Errorf("second stop: %v, want a no-op", err)
	}

	// An ignored signal stays ignored across exec, so sleep itself ignores SIGTERM.
	stubborn, err := Start("stubborn", filepath.Join(dir, "stubborn.log"), nil, "sh", "-c", "trap '' TERM; echo up; exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	waitUp(t, stubborn)
	if err := stubborn.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "ignored SIGTERM") {
		t.Errorf("stop of a process ignoring SIGTERM: %v, want it killed", err)
	}
}

// waitUp waits for the process's "up" line: its signal dispositions are set by then.
func waitUp(t *testing.T, p *Proc) {
	t.Helper()
	err := Eventually(5*time.Second, 20*time.Millisecond, func() error {
		if p.LogTail(1) != "up" { // not the header line, which quotes the command
			return fmt.Errorf("%s: no \"up\" in its log yet", p.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLogTail(t *testing.T) {
	if got := LogTail(filepath.Join(t.TempDir(), "none.log"), 3); !strings.HasPrefix(got, "(no log at ") {
		t.Errorf("missing log: %q", got)
	}
}
