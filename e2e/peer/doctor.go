package peer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// DoctorReport is `cilium-chain-install doctor --output json`, as both harnesses read it.
type DoctorReport struct {
	OK       bool `json:"ok"`
	Failures int  `json:"failures"`
	Findings []struct {
		Area, Check, Status, Detail, Fix string
	} `json:"findings"`
}

// ParseDoctorReport decodes doctor's JSON output.
func ParseDoctorReport(out []byte) (DoctorReport, error) {
	var r DoctorReport
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("doctor printed no JSON report (%w): %s", err, out)
	}
	return r, nil
}

// String is one line per finding, for test logs.
func (r DoctorReport) String() string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %-10s %-22s %-4s %s\n", f.Area, f.Check, f.Status, f.Detail)
	}
	return b.String()
}

// Failing reports whether a failing finding of area and check mentions word.
func (r DoctorReport) Failing(area, check, word string) bool {
	for _, f := range r.Findings {
		if f.Status == "fail" && f.Area == area && f.Check == check && strings.Contains(f.Detail, word) {
			return true
		}
	}
	return false
}

// Mentions reports whether any finding says s.
func (r DoctorReport) Mentions(s string) bool { return strings.Contains(r.String(), s) }
