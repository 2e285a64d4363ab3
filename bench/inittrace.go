package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
)

// initStats summarises GODEBUG=inittrace=1 over several runs: package inits run, their summed clock
// time (median over runs) and the costliest packages (mean ms over runs).
type initStats struct {
	Count   int
	ClockMS float64
	Bytes   int64
	Top     []pkgInit
}

type pkgInit struct {
	Pkg     string
	ClockMS float64
	Bytes   int64
}

// "init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs"
var initLine = regexp.MustCompile(`^init (\S+) @[\d.]+ ms, ([\d.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// measureInit runs the plugin's VERSION command runs times with inittrace: package init is the
// same whatever the command, and VERSION does nothing else.
func measureInit(ctx context.Context, bin string, runs int) (initStats, error) {
	var totals []float64
	var bytesTotals []int64
	perPkg := map[string]*pkgInit{}
	count := 0
	for range runs {
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"CNI_COMMAND=VERSION", "GODEBUG=inittrace=1", "PATH=/usr/bin:/bin"}
		cmd.Stdin = bytes.NewReader([]byte(`{"cniVersion":"0.3.1"}`))
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Run(); err != nil {
			return initStats{}, fmt.Errorf("%s VERSION: %w: %s", bin, err, errOut.String())
		}
		total, n, b := 0.0, 0, int64(0)
		sc := bufio.NewScanner(&errOut)
		for sc.Scan() {
			m := initLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			clock, _ := strconv.ParseFloat(m[2], 64)
			by, _ := strconv.ParseInt(m[3], 10, 64)
			total, n, b = total+clock, n+1, b+by
			p := perPkg[m[1]]
			if p == nil {
				p = &pkgInit{Pkg: m[1]}
				perPkg[m[1]] = p
			}
			p.ClockMS += clock / float64(runs)
			p.Bytes = by
		}
		totals, bytesTotals, count = append(totals, total), append(bytesTotals, b), n
	}
	st := initStats{Count: count, ClockMS: median(totals), Bytes: median(bytesTotals)}
	for _, p := range perPkg {
		st.Top = append(st.Top, *p)
	}
	slices.SortFunc(st.Top, func(a, b pkgInit) int {
		switch {
		case a.ClockMS > b.ClockMS:
			return -1
		case a.ClockMS < b.ClockMS:
			return 1
		}
		return 0
	})
	st.Top = st.Top[:min(len(st.Top), 6)]
	return st, nil
}
