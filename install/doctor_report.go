package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A finding's status. Only fail makes doctor exit non-zero; warn is for what may be fine (a state
// doctor cannot read from inside an unprivileged container, a pod still starting).
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "fail"
)

// finding is one line of the doctor's answer.
type finding struct {
	Area   string `json:"area"`  // conflist, plugin, primary, agent, attachment, installer
	Check  string `json:"check"` // what was looked at, e.g. "runtime loads" or a pod's name
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Fix says what to change, e.g. the Cilium Helm value, when Status is not ok.
	Fix string `json:"fix,omitempty"`
}

// report collects the findings in the order they were made.
type report struct {
	Findings []finding `json:"findings"`
}

func (r *report) add(area, check, status, detail, fix string) {
	r.Findings = append(r.Findings, finding{Area: area, Check: check, Status: status, Detail: detail, Fix: fix})
}

func (r *report) ok(area, check, detail string) { r.add(area, check, statusOK, detail, "") }

func (r *report) warn(area, check, detail, fix string) { r.add(area, check, statusWarn, detail, fix) }

func (r *report) fail(area, check, detail, fix string) { r.add(area, check, statusFail, detail, fix) }

// failed counts the findings that make the node wrong.
func (r *report) failed() int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == statusFail {
			n++
		}
	}
	return n
}

// jsonReport is the --output json document.
type jsonReport struct {
	OK       bool      `json:"ok"`
	Failures int       `json:"failures"`
	Findings []finding `json:"findings"`
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonReport{OK: r.failed() == 0, Failures: r.failed(), Findings: r.Findings})
}

// writeTable prints one row per finding, the fix indented below it, and a verdict.
func (r *report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AREA\tCHECK\tSTATUS\tDETAIL")
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Area, f.Check, strings.ToUpper(f.Status), f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(tw, "\t\t\t-> %s\n", f.Fix)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := r.failed(); n > 0 {
		_, err := fmt.Fprintf(w, "\n%d problem(s) found.\n", n)
		return err
	}
	_, err := fmt.Fprintln(w, "\nNo problems found.")
	return err
}
