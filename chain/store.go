package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The attachment store records, per network, every endpoint this plugin registered, so that GC deletes
// exactly those and never the agent's own or another plugin's endpoints. (The agent keeps endpoint
// "properties" but cannot return them through its API, so the mark lives here.) A record is written
// before the PUT: an endpoint that may exist always has a record and can be collected.
type attachmentStore struct {
	dir string // <state-dir>/<network name>
}

const (
	stateAdding = "adding"
	stateAdded  = "added"
	// maxRecordSize bounds what GC reads from a record file.
	maxRecordSize = 4096
)

type record struct {
	ContainerID string    `json:"containerID"`
	IfName      string    `json:"ifname"`
	Netns       string    `json:"netns,omitempty"`
	State       string    `json:"state"`
	Updated     time.Time `json:"updated"`
	// Adopted: registered by adoption (adopt.go) for an attachment the runtime made without us.
	Adopted bool `json:"adopted,omitempty"`
}

func newAttachmentStore(stateDir, network string) attachmentStore {
	return attachmentStore{dir: filepath.Join(stateDir, network)}
}

// recordName is "<containerID>:<ifname>": neither part may contain ':' or '/' (validated by the caller).
func recordName(containerID, ifname string) string { return containerID + ":" + ifname }

// put records r durably (fsync): ADD writes it before the PUT, so an endpoint that may exist always
// has a record for GC.
func (s attachmentStore) put(r record) error { return s.write(r, true) }

// update rewrites a record without fsync. Losing it in a crash leaves the durable "adding" record,
// which GC already handles (collected once add-timeout has passed): one fsync less per ADD.
func (s attachmentStore) update(r record) error { return s.write(r, false) }

func (s attachmentStore) write(r record, durable bool) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("%w: key \"state-dir\": %w", ErrStateDir, err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := writeFileReplace(filepath.Join(s.dir, recordName(r.ContainerID, r.IfName)), data, 0o600, durable); err != nil {
		return fmt.Errorf("%w: key \"state-dir\": recording attachment: %w", ErrStateDir, err)
	}
	return nil
}

func (s attachmentStore) remove(containerID, ifname string) error {
	err := os.Remove(filepath.Join(s.dir, recordName(containerID, ifname)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// list returns every readable record; unreadable ones are reported, not fatal. Temp files of killed
// writers are removed on the way.
func (s attachmentStore) list() ([]record, []error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{err}
	}
	removeStaleTemps(s.dir, entries)
	var recs []record
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		r, err := readRecord(filepath.Join(s.dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}

func readRecord(path string) (record, error) {
	f, err := os.Open(path)
	if err != nil {
		return record{}, err
	}
	defer f.Close()
	var r record
	if err := json.NewDecoder(io.LimitReader(f, maxRecordSize)).Decode(&r); err != nil {
		return record{}, fmt.Errorf("attachment record %s: %w", path, err)
	}
	if recordName(r.ContainerID, r.IfName) != filepath.Base(path) {
		return record{}, fmt.Errorf("attachment record %s: content names %s", path, recordName(r.ContainerID, r.IfName))
	}
	return r, nil
}
