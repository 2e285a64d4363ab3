package bench

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Paths are the binaries and directories of one run.
type Paths struct {
	Repo    string // the cilium-chain clone
	PeerDir string // $PEER_DIR: bin/ (cnitool, flannel, cilium-agent, cilium-cni…) and cilium-bpf
	BinDir  string // CNI bin dir of the plugins under test: cilium-chain, cilium-cni, cc-noop
	RunDir  string // configs, sockets, state and logs; short, for unix socket paths
}

func (p Paths) peer(name string) string { return filepath.Join(p.PeerDir, "bin", name) }

// cniPath is CNI_PATH: the plugins under test first, then the reference plugins and Flannel.
func (p Paths) cniPath() string { return p.BinDir + ":" + filepath.Join(p.PeerDir, "bin") }

func (p Paths) plugin(name string) string { return filepath.Join(p.BinDir, name) }

// Prepare fills BinDir: cilium-chain from bin/ (make build), upstream's cilium-cni from the peers, and
// the no-op plugins built here with the same flags as cilium-chain, each written as a copy of its own
// (installCopy).
func (p Paths) Prepare() error {
	for _, peer := range []string{"cnitool", "flannel", "bridge", "host-local", "cilium-cni"} {
		if _, err := os.Stat(p.peer(peer)); err != nil {
			return fmt.Errorf("peer %s missing (make peers; bash e2e/peers.sh upstream-cni): %w", peer, err)
		}
	}
	if err := requireStatic(p.peer("cilium-cni")); err != nil {
		return err
	}
	if err := os.MkdirAll(p.BinDir, 0o755); err != nil {
		return fmt.Errorf("bin dir: %w", err)
	}
	sources := map[string]string{
		"cilium-chain": filepath.Join(p.Repo, "bin", "cilium-chain"),
		"cilium-cni":   p.peer("cilium-cni"),
	}
	for name, tags := range map[string]string{noopType: "", noopImportsType: "importchain"} {
		sources[name] = p.plugin(name) + ".linked"
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags="+tags, "-o", sources[name], "./bench/noop")
		build.Dir = p.Repo
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", name, err, out)
		}
		defer os.Remove(sources[name])
	}
	for name, src := range sources {
		if err := installCopy(src, p.plugin(name)); err != nil {
			return fmt.Errorf("%s (make build?): %w", name, err)
		}
	}
	return nil
}

// installCopy writes src's bytes to dst in one write, as an installer puts a plugin on a node (ours
// copies it with io.Copy). How a binary's file was written moves the process figures of the same
// bytes (the linker's own output ran slowest here, ADD and DEL alike), so every plugin under test
// runs from a file written alike.
func installCopy(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	_ = os.Remove(dst)
	return os.WriteFile(dst, data, 0o755)
}

// requireStatic refuses a dynamically linked binary: upstream ships cilium-cni static (CGO_ENABLED=0),
// and a cgo build would load libc and start slower than what users run.
func requireStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; rebuild it static: bash e2e/peers.sh upstream-cni", bin)
		}
	}
	return nil
}
