package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
)

// Adoption brings under the agent the attachments the runtime made while our conflist was not in use
// (pods that ran before the install, pods started during node boot with the primary's file alone). Its
// source is libcni's result cache, which holds for every attachment the primary's result, the netns
// and CNI_ARGS: the same inputs ADD has, so an adopted endpoint is the one ADD would have registered,
// with the same record, and DEL and GC treat it as theirs.
type Adoption struct {
	// Conf is our conflist entry as the runtime hands it over: its name is the primary's network.
	Conf *Config
	// CacheDir is libcni's results dir (/var/lib/cni/results on the host).
	CacheDir string
	// ReportOnly lists what has no endpoint without registering anything (adoption turned off).
	ReportOnly bool
	Log        *logrus.Entry
}

// Outcomes of one cached attachment in a pass.
const (
	OutcomeAdopted   = "adopted"   // registered by this pass
	OutcomeManaged   = "managed"   // the agent already has its endpoint
	OutcomeUnmanaged = "unmanaged" // no endpoint; Reason says why
)

// cacheKind is the only libcni cache format adoption reads (libcni ≥ 0.8).
const cacheKind = "cniCacheV1"

// maxCacheEntrySize bounds what a pass reads from one cache file.
const maxCacheEntrySize = 1 << 20

// AttachmentReport is what a pass found for one cached attachment of our network.
type AttachmentReport struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
	Namespace   string `json:"namespace,omitempty"`
	Pod         string `json:"pod,omitempty"`
	PodUID      string `json:"podUID,omitempty"`
	Outcome     string `json:"outcome"`
	Reason      string `json:"reason,omitempty"`
}

// String is "namespace/pod (containerID:ifname)".
func (r AttachmentReport) String() string {
	return fmt.Sprintf("%s/%s (%.12s:%s)", r.Namespace, r.Pod, r.ContainerID, r.IfName)
}

// cacheEntry is one libcni cache file (libcni's cachedInfo), the fields adoption needs.
type cacheEntry struct {
	Kind        string          `json:"kind"`
	ContainerID string          `json:"containerId"`
	IfName      string          `json:"ifName"`
	NetworkName string          `json:"networkName"`
	Netns       string          `json:"netns"`
	CniArgs     [][2]string     `json:"cniArgs"`
	Result      json.RawMessage `json:"result"`

	path string
}

func (e *cacheEntry) arg(key string) string {
	for _, kv := range e.CniArgs {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// Run makes one pass: every cached attachment of our network is adopted, found managed, or reported
// unmanaged with the reason; adopted records whose pod is gone are cleaned up. It fails as a whole only
// when the agent is not healthy or the cache cannot be read; nothing is registered then.
func (a Adoption) Run(ctx context.Context) ([]AttachmentReport, error) {
	base, err := NewCall(a.Conf, "", "", "", "", a.Log)
	if err != nil {
		return nil, err
	}
	// The cache first: an installer whose cache mount is missing never talks to the agent.
	entries, err := readCacheEntries(a.CacheDir, a.Conf.Name, a.Log)
	if err != nil {
		return nil, err
	}
	if err := base.Status(ctx); err != nil {
		return nil, err
	}
	eps, err := base.agent.ListEndpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing endpoints: %w", err)
	}
	have := map[string]bool{}
	for _, ep := range eps {
		if ep.Status != nil && ep.Status.ExternalIdentifiers != nil {
			have[ep.Status.ExternalIdentifiers.CniAttachmentID] = true
		}
	}

	var out []AttachmentReport
	for _, e := range entries {
		r := AttachmentReport{ContainerID: e.ContainerID, IfName: e.IfName,
			Namespace: e.arg("K8S_POD_NAMESPACE"), Pod: e.arg("K8S_POD_NAME"), PodUID: e.arg("K8S_POD_UID"),
			Outcome: OutcomeUnmanaged}
		switch {
		case have[recordName(e.ContainerID, e.IfName)] || have[e.ContainerID]: // older agents: the container ID alone
			r.Outcome = OutcomeManaged
		case a.ReportOnly:
			r.Reason = "adoption is off"
		default:
			if err := a.adopt(ctx, e); err != nil {
				r.Reason = err.Error()
			} else {
				r.Outcome = OutcomeAdopted
			}
		}
		out = append(out, r)
	}
	a.reap(ctx, base, entries)
	return out, nil
}

// adopt registers one cached attachment as ADD would have, from the cache instead of the runtime.
func (a Adoption) adopt(ctx context.Context, e *cacheEntry) error {
	conf := *a.Conf
	if err := cachedPrevResult(&conf, e.Result); err != nil {
		return err
	}
	var pairs []string
	for _, kv := range e.CniArgs {
		pairs = append(pairs, kv[0]+"="+kv[1])
	}
	log := a.Log.WithFields(logrus.Fields{"containerID": e.ContainerID, "ifname": e.IfName, "netns": e.Netns, "adoption": true})
	c, err := NewCall(&conf, e.ContainerID, e.Netns, e.IfName, strings.Join(pairs, ";"), log)
	if err != nil {
		return err
	}
	c.adopted = true
	return c.adopt(ctx, e.path)
}

// adopt is ADD for an attachment that already runs: the veth is found from the node's side only, and
// nothing in the pod's netns is changed.
func (c *Call) adopt(ctx context.Context, cachePath string) error {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.AddTimeout.Duration)
	defer cancel()

	if err := validAttachment(c.ContainerID, c.IfName); err != nil {
		return err
	}
	if c.Conf.EnableRouteMTU {
		return fmt.Errorf("%w: enable-route-mtu changes the pod's routes, which adoption does not do", ErrInvalidConfig)
	}
	res, err := prevResult(c.Conf)
	if err != nil {
		return err
	}
	att, err := podAttachment(res, c.IfName)
	if err != nil {
		return err
	}
	if c.Netns == "" { // caches of older libcni versions hold no netns
		c.Netns = att.Iface.Sandbox
	}
	pair, err := hostSideVeth(c.Netns, res, att)
	if err != nil {
		return err
	}
	labels, err := c.podLabels()
	if err != nil {
		return err
	}
	ep, err := c.register(ctx, att, pair, labels)
	if err != nil {
		return err
	}
	if mac := agentMAC(ep); mac != "" && !sameMAC(mac, pair.PodMAC) {
		return c.rollback(true, fmt.Errorf("%w: the agent wants MAC %s on %q; adoption does not change a running pod's MAC", ErrInterfaceMismatch, mac, c.IfName))
	}
	// The pod may have gone while we registered it (its DEL ran before our PUT): then nothing may stay.
	if _, err := os.Stat(cachePath); err != nil {
		return c.rollback(true, fmt.Errorf("%w: the pod went away during adoption: %w", ErrInterfaceMismatch, err))
	}
	if _, err := hostSideVeth(c.Netns, res, att); err != nil {
		return c.rollback(true, fmt.Errorf("the pod went away during adoption: %w", err))
	}
	if err := c.store.update(c.record(stateAdded)); err != nil {
		return c.rollback(true, err)
	}
	c.Log.WithFields(logrus.Fields{"endpointID": ep.ID, "hostVeth": pair.HostName}).Info("endpoint registered for a running pod (adopted)")
	return nil
}

// cachedPrevResult makes the cached result conf's prevResult, in the version it was cached in.
func cachedPrevResult(conf *Config, raw json.RawMessage) error {
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil || res == nil {
		return fmt.Errorf("%w: the cache entry holds no result", ErrInvalidConfig)
	}
	v, _ := res["cniVersion"].(string)
	if v == "" {
		return fmt.Errorf("%w: the cached result has no cniVersion", ErrInvalidConfig)
	}
	conf.CNIVersion, conf.PrevResultJSON = v, raw
	return nil
}

// reap deletes the endpoints of adopted attachments whose pod is gone (cache entry and netns both),
// which closes the window where a pod's DEL ran between our look at the cache and our PUT. Records of
// ADDs are left to DEL and GC: their cache entry is written only after the ADD returned.
func (a Adoption) reap(ctx context.Context, base *Call, entries []*cacheEntry) {
	cached := map[string]bool{}
	for _, e := range entries {
		cached[recordName(e.ContainerID, e.IfName)] = true
	}
	recs, _ := base.store.list()
	for _, r := range recs {
		if !r.Adopted || cached[recordName(r.ContainerID, r.IfName)] || netnsExists(r.Netns) {
			continue
		}
		c, err := NewCall(a.Conf, r.ContainerID, r.Netns, r.IfName, "", a.Log.WithFields(logrus.Fields{"containerID": r.ContainerID, "ifname": r.IfName}))
		if err != nil {
			continue
		}
		c.Log.Info("adopted pod is gone; deleting its endpoint")
		if err := c.deleteOrQueue(ctx); err != nil {
			c.Log.WithError(err).Warn("deleting the endpoint of a gone adopted pod")
		}
	}
}

// readCacheEntries returns the cache entries of network, sorted by file name. Files of other networks,
// of other formats, or that do not parse are not ours to judge: they are skipped (logged at debug).
func readCacheEntries(dir, network string, log *logrus.Entry) ([]*cacheEntry, error) {
	files, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("libcni cache %s: %w (is it mounted?)", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("libcni cache: %w", err)
	}
	var out []*cacheEntry
	for _, f := range files {
		if !f.Type().IsRegular() || !strings.HasPrefix(f.Name(), network+"-") {
			continue
		}
		path := filepath.Join(dir, f.Name())
		e, err := readCacheEntry(path)
		if err != nil {
			log.WithError(err).WithField("path", path).Debug("skipping a libcni cache file")
			continue
		}
		// "<network>-<containerID>-<ifname>": a network "cbr0-x" has files that start with "cbr0-" too.
		if e.Kind != cacheKind || e.NetworkName != network || f.Name() != network+"-"+e.ContainerID+"-"+e.IfName {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

func readCacheEntry(path string) (*cacheEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := &cacheEntry{path: path}
	if err := json.NewDecoder(io.LimitReader(f, maxCacheEntrySize)).Decode(e); err != nil {
		return nil, err
	}
	return e, nil
}
