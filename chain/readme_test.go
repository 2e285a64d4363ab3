package chain

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeKeyTable: README's key table lists exactly this plugin's keys (the Config fields outside
// the CNI spec's), each with its default tag's value.
func TestReadmeKeyTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9.-]+)` \\| ([^|]*) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = strings.TrimSpace(m[2])
	}
	// Keys the CNI spec defines: accepted, not the plugin's to document.
	spec := map[string]bool{"args": true, "runtimeConfig": true, "ipMasq": true, "cni.dev/attachments": true,
		"cniVersions": true, "cni.dev/valid-attachments": true, "prevResult": true}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || key == "" || key == "-" || spec[key] {
			continue
		}
		doc, ok := documented[key]
		if !ok {
			t.Errorf("key %q is not in README's key table", key)
			continue
		}
		if def, ok := f.Tag.Lookup("default"); ok && !strings.HasPrefix(doc, "`"+def+"`") {
			t.Errorf("key %q: README default %q, the code's is %q", key, doc, def)
		}
		delete(documented, key)
	}
	for key := range documented {
		if _, known := configFields()[key]; !known && strings.Contains(key, "-") {
			t.Errorf("README documents key %q, which the code does not accept", key)
		}
	}
}
