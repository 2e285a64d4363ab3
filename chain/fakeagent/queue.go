package fakeagent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/cilium/api/v1/models"
	"golang.org/x/sys/unix"
)

// DrainQueue does what the agent does with its deletion queue at start
// (pkg/endpoint/api/endpoint_deletion_queue.go): take the exclusive OFD lock on dir/lockfile, delete the
// endpoint named by each *.delete file (a JSON EndpointBatchDeleteRequest or a plain endpoint ID),
// remove the file, unlock. It returns how many entries it processed.
func (a *Agent) DrainQueue(dir string) (int, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lockfile"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lock := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLKW, &lock); err != nil {
		return 0, fmt.Errorf("exclusive lock: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.delete"))
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err == nil {
			var batch models.EndpointBatchDeleteRequest
			a.mu.Lock()
			if json.Unmarshal(content, &batch) == nil && batch.ContainerID != "" {
				for id, ep := range a.endpoints {
					if ep.Status.ExternalIdentifiers.ContainerID == batch.ContainerID {
						delete(a.endpoints, id)
					}
				}
			} else if ep := a.lookup(string(content)); ep != nil {
				delete(a.endpoints, ep.ID)
			}
			a.mu.Unlock()
		}
		_ = os.Remove(file)
	}
	return len(files), nil
}
