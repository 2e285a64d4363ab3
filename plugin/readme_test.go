package main

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestReadmeCodeTable: every code of the codes table is documented, and README documents no code of
// ours (100+) that the code cannot return.
func TestReadmeCodeTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[uint]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		documented[uint(n)] = true
	}
	ours := map[uint]bool{}
	for _, c := range codes {
		ours[c.code] = true
		if !documented[c.code] {
			t.Errorf("code %d (%s) is not in README's error table", c.code, c.msg)
		}
	}
	for code := range documented {
		if code >= 100 && code < 999 && !ours[code] {
			t.Errorf("README documents code %d, which the plugin never returns", code)
		}
	}
}
