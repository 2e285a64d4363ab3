// Command imagebuild packs static binaries into a single-layer OCI image and writes it as an image
// archive that `ctr images import` (and `docker load`) reads, without a Docker engine or a registry.
// The real-cluster e2e (e2e/cluster) uses it for the installer, pause and test images.
//
//	imagebuild -o out.tar -tag ghcr.io/x/y:v1 -add bin/prog=/usr/local/bin/prog -entrypoint /usr/local/bin/prog
//
// It is its own module so go-containerregistry never becomes a dependency of cilium-chain itself.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every file's mtime and the image's creation time: the same inputs give the same digest.
var epoch = time.Unix(0, 0).UTC()

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	out        string
	tags       listFlag
	adds       listFlag
	entrypoint listFlag
	env        listFlag
}

func main() {
	var o options
	flag.StringVar(&o.out, "o", "", "the image archive to write")
	flag.Var(&o.tags, "tag", "an image reference to tag the image with (repeatable)")
	flag.Var(&o.adds, "add", "src=dst: put file src at absolute path dst, mode 0755 (repeatable)")
	flag.Var(&o.entrypoint, "entrypoint", "one entrypoint argument (repeatable, in order)")
	flag.Var(&o.env, "env", "KEY=VALUE for the image config (repeatable)")
	flag.Parse()
	if err := build(o); err != nil {
		fmt.Fprintf(os.Stderr, "imagebuild: %v\n", err)
		os.Exit(1)
	}
}

func build(o options) error {
	if o.out == "" || len(o.tags) == 0 || len(o.adds) == 0 {
		return errors.New("need -o, at least one -tag and at least one -add")
	}
	layerTar, err := layerBytes(o.adds)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = o.entrypoint
	cfg.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, o.env...)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return fmt.Errorf("set config: %w", err)
	}
	refs := map[name.Reference]v1.Image{}
	for _, t := range o.tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("tag %q: %w", t, err)
		}
		refs[ref] = img
	}
	if err := tarball.MultiRefWriteToFile(o.out, refs); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	return nil
}

// layerBytes builds the layer tar: every parent directory, then each file, sorted by path.
func layerBytes(adds []string) ([]byte, error) {
	files := map[string]string{} // dst → src
	for _, a := range adds {
		src, dst, ok := strings.Cut(a, "=")
		if !ok || src == "" || !path.IsAbs(dst) {
			return nil, fmt.Errorf("-add %q: want src=/absolute/dst", a)
		}
		files[path.Clean(dst)] = src
	}
	dirs := map[string]bool{}
	for dst := range files {
		for d := path.Dir(dst); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range sortedKeys(dirs) {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
	}
	for _, dst := range sortedKeys(files) {
		data, err := os.ReadFile(files[dst])
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: int64(len(data)), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
