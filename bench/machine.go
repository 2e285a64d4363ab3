package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// machine describes where the run happened; figures compare only within one run.
type machine struct {
	CPU, Kernel, OS, Go, Memory string
	Cores                       int
	LoadStart, LoadEnd          string
}

// String is the machine as every report names it: CPU, memory, kernel, OS, Go.
func (m machine) String() string {
	return fmt.Sprintf("%d × %s, %s RAM, Linux %s, %s, %s", m.Cores, m.CPU, m.Memory, m.Kernel, m.OS, m.Go)
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg()}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	m.Memory = firstField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.OS = strings.Trim(firstField("/etc/os-release", "PRETTY_NAME"), `"`)
	return m
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// firstField returns the value of the first "key: value" or "key=value" line.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		if _, v, ok := strings.Cut(line, ":"); ok {
			return strings.TrimSpace(v)
		}
		if _, v, ok := strings.Cut(line, "="); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
