package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// runGoBench runs chain/'s in-process benchmarks (chain/bench_test.go) and keeps the result lines.
func runGoBench(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "./chain/")
	cmd.Dir = repo
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go test -bench ./chain/: %w\n%s", err, out.String())
	}
	var keep []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "cpu:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n"), nil
}
