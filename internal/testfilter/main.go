// Command testfilter turns `go test -json` (on stdin) into a log a CI reader can scan: one
// "--- PASS/FAIL/SKIP" line per test (a skip with its reason), what tests print to stdout (summaries,
// the demo's narration), package results, and the whole held-back t.Log output of every failed test.
// It exits 1 when a test or a package failed or, with CI=true, when any test skipped: CI runs as root
// with every peer installed, so a skip there means a suite did not run.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// maxHeld caps what is kept of one test's log: a failure shows its last lines.
const maxHeld = 3000

type filter struct {
	out      io.Writer
	ci       bool
	held     map[string][]string // package/test → its t.Log lines so far
	failed   []string
	skipped  []string
	passed   int
	pkgFails int
}

func main() {
	f := &filter{out: os.Stdout, ci: os.Getenv("CI") == "true", held: map[string][]string{}}
	os.Exit(f.run(os.Stdin))
}

func (f *filter) run(in io.Reader) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if line := sc.Text(); !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
			fmt.Fprintln(f.out, line) // not an event: stderr merged in, a build error
			continue
		}
		f.handle(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(f.out, "testfilter: reading go test output: %v\n", err)
		return 1
	}
	return f.summary()
}

func (f *filter) handle(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(f.out, e.Output)
	case e.Action == "build-fail" || (e.Action == "fail" && e.Test == ""):
		f.pkgFails++
	case e.Action == "output" && e.Test == "":
		if s := strings.TrimSpace(e.Output); s != "PASS" && s != "FAIL" {
			fmt.Fprint(f.out, e.Output)
		}
	case e.Action == "output":
		f.output(key, e.Output)
	case e.Action == "pass" && e.Test != "":
		f.passed++
		delete(f.held, key)
	case e.Action == "skip" && e.Test != "":
		f.skipped = append(f.skipped, e.Package+" "+e.Test)
		delete(f.held, key)
	case e.Action == "fail":
		f.failed = append(f.failed, e.Package+" "+e.Test)
		delete(f.held, key)
	}
}

// output sorts one line of a test's output: framing is dropped, result lines are printed (a failure's
// and a skip's after what the test logged), unindented lines (the test's own stdout) go straight out,
// and t.Log lines are held until the test's result is known.
func (f *filter) output(key, line string) {
	trimmed := strings.TrimLeft(line, " ")
	switch {
	case strings.HasPrefix(trimmed, "=== "):
	case strings.HasPrefix(trimmed, "--- PASS"):
		fmt.Fprint(f.out, line)
	case strings.HasPrefix(trimmed, "--- FAIL"), strings.HasPrefix(trimmed, "--- SKIP"):
		fmt.Fprint(f.out, strings.Join(f.held[key], ""))
		fmt.Fprint(f.out, line)
		delete(f.held, key)
	case !strings.HasPrefix(line, " "):
		fmt.Fprint(f.out, line)
	default:
		h := append(f.held[key], line)
		if len(h) > maxHeld {
			h = append([]string{"    [testfilter: earlier lines dropped]\n"}, h[len(h)-maxHeld+1:]...)
		}
		f.held[key] = h
	}
}

func (f *filter) summary() int {
	fmt.Fprintf(f.out, "testfilter: %d passed, %d failed, %d skipped\n", f.passed, len(f.failed), len(f.skipped))
	rc := 0
	if len(f.failed) > 0 || f.pkgFails > 0 {
		for _, t := range f.failed {
			fmt.Fprintf(f.out, "testfilter: FAILED %s\n", t)
		}
		rc = 1
	}
	if f.ci && len(f.skipped) > 0 {
		for _, t := range f.skipped {
			fmt.Fprintf(f.out, "testfilter: SKIPPED under CI=true (a suite that did not run): %s\n", t)
		}
		rc = 1
	}
	return rc
}
