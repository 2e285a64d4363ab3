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

// nodeHeadline writes the "On a real node" section: the headline block of nodeMD (verbatim) with links
// to it and its chart, relative to reportDir where results.md goes.
func nodeHeadline(b *strings.Builder, nodeMD, reportDir string) {
	b.WriteString("## On a real node (make bench-cluster)\n\n")
	raw, err := os.ReadFile(nodeMD)
	if errors.Is(err, fs.ErrNotExist) {
		b.WriteString("not run yet: `make bench-cluster`\n\n")
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
	if _, err := os.Stat(png); err == nil {
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
