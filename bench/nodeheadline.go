package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The real-node burst bench (make bench-cluster) writes its headline table between these lines of
// its report; make bench copies that block into results.md.
const (
	HeadlineStart = "<!-- headline -->"
	HeadlineEnd   = "<!-- /headline -->"
)

// crashReport is where make bench-cluster-crash (the agent killed during every burst) writes its report:
// beside the real-node report, named after it.
func crashReport(nodeMD string) string { return strings.TrimSuffix(nodeMD, ".md") + "-crash.md" }

// nodeHeadline writes a real-node section titled "<title> (<target>)": the headline block of nodeMD
// (verbatim) with links to it and its chart, relative to reportDir where results.md goes.
func nodeHeadline(b *strings.Builder, title, target, nodeMD, reportDir string) {
	fmt.Fprintf(b, "## %s (%s)\n\n", title, target)
	raw, err := os.ReadFile(nodeMD)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(b, "not run yet: `%s`\n\n", target)
		return
	}
	link := func(path string) string {
		if rel, err := filepath.Rel(reportDir, path); err == nil {
			return rel
		}
		return path
	}
	md := link(nodeMD)
	if err != nil {
		fmt.Fprintf(b, "[%s](%s) cannot be read: %v\n\n", md, md, err)
		return
	}
	block, ok := headline(string(raw))
	if !ok {
		fmt.Fprintf(b, "[%s](%s) has no headline block (the lines between `%s` and `%s`).\n\n", md, md, HeadlineStart, HeadlineEnd)
		return
	}
	fmt.Fprintf(b, "Copied from [%s](%s), which has the method and every figure", md, md)
	png := strings.TrimSuffix(nodeMD, filepath.Ext(nodeMD)) + ".png"
	if statOK(png) {
		fmt.Fprintf(b, "; chart: [%s](%s)", link(png), link(png))
	}
	b.WriteString(":\n\n" + block + "\n\n")
}

// headline is the text between the marker lines, without them and trimmed of blank lines.
func headline(md string) (string, bool) {
	_, rest, ok := strings.Cut(md, HeadlineStart)
	if !ok {
		return "", false
	}
	block, _, ok := strings.Cut(rest, HeadlineEnd)
	if !ok {
		return "", false
	}
	block = strings.Trim(block, "\n")
	return block, strings.TrimSpace(block) != ""
}

func statOK(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
