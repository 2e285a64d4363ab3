package main

import (
	"bytes"
	"strings"
	"testing"
)

// A run with one test of each outcome, as `go test -json` reports it.
const sample = `{"Action":"run","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"    ok_test.go:9: chatty detail\n"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"soak: cycles=3\n"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestRoot","Output":"    root_test.go:5: needs root\n"}
{"Action":"output","Package":"p","Test":"TestRoot","Output":"--- SKIP: TestRoot (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestRoot"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"    bad_test.go:7: the reason\n"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestBad"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}
{"Action":"fail","Package":"p"}
`

func TestFilter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		ci    bool
		rc    int
	}{
		{"failure", sample, false, 1},
		{"passing with a skip", onlyTests(sample, "TestOK", "TestRoot"), false, 0},
		{"skip under CI", onlyTests(sample, "TestOK", "TestRoot"), true, 1},
		{"pass under CI", onlyTests(sample, "TestOK"), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := &filter{out: &out, ci: tc.ci, held: map[string][]string{}}
			if rc := f.run(strings.NewReader(tc.input)); rc != tc.rc {
				t.Errorf("exit %d, want %d; output:\n%s", rc, tc.rc, out.String())
			}
			got := out.String()
			for _, want := range []string{"--- PASS: TestOK", "soak: cycles=3"} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "chatty detail") || strings.Contains(got, "=== RUN") {
				t.Errorf("a passing test's t.Log lines or framing shown:\n%s", got)
			}
			if strings.Contains(tc.input, "TestRoot") && !strings.Contains(got, "needs root\n--- SKIP: TestRoot") {
				t.Errorf("a skip must show its reason:\n%s", got)
			}
			if strings.Contains(tc.input, "TestBad") && !strings.Contains(got, "the reason\n--- FAIL: TestBad") {
				t.Errorf("a failure must show its log:\n%s", got)
			}
		})
	}
}

// onlyTests keeps the events of the named tests (and no package failure).
func onlyTests(in string, tests ...string) string {
	var keep []string
	for _, line := range strings.SplitAfter(in, "\n") {
		for _, name := range tests {
			if strings.Contains(line, `"Test":"`+name+`"`) {
				keep = append(keep, line)
			}
		}
	}
	return strings.Join(keep, "")
}
