package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// serviceAccountDir is where the kubelet mounts the pod's API token and the cluster's CA.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// podAPI is the little of the Kubernetes API repair uses: list this node's pods, evict or delete one.
// Plain HTTPS with the pod's token: two requests per repair do not need client-go's caches, and the
// installer stays free of its dependency tree.
type podAPI struct {
	server    string // https://host:port
	tokenFile string // re-read for every request: projected tokens rotate
	client    *http.Client
}

// newInClusterPodAPI talks to server (empty: the in-cluster address from KUBERNETES_SERVICE_HOST/PORT)
// with the ServiceAccount token and CA in saDir.
func newInClusterPodAPI(server, saDir string, lookupEnv func(string) (string, bool)) (*podAPI, error) {
	if server == "" {
		host, _ := lookupEnv("KUBERNETES_SERVICE_HOST")
		port, _ := lookupEnv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("repair: KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod?); set --repair-api-server")
		}
		server = "https://" + net.JoinHostPort(host, port)
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("repair: the API server's CA: %w (is the ServiceAccount token mounted?)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("repair: no certificate in %s", filepath.Join(saDir, "ca.crt"))
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &podAPI{server: strings.TrimSuffix(server, "/"), tokenFile: filepath.Join(saDir, "token"),
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// apiPod is the part of a Pod repair judges.
type apiPod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		UID               string            `json:"uid"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
		Annotations       map[string]string `json:"annotations"`
		OwnerReferences   []struct {
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			Controller *bool  `json:"controller"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		NodeName    string `json:"nodeName"`
		HostNetwork bool   `json:"hostNetwork"`
	} `json:"spec"`
}

// controller is "Kind/name" of the pod's managing controller, or "" for a bare pod.
func (p *apiPod) controller() string {
	for _, o := range p.Metadata.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Kind + "/" + o.Name
		}
	}
	return ""
}

// apiStatusError is a non-2xx answer.
type apiStatusError struct {
	code int
	msg  string
}

func (e *apiStatusError) Error() string {
	return fmt.Sprintf("API server answered %d: %s", e.code, e.msg)
}

func statusCode(err error) int {
	var se *apiStatusError
	if errors.As(err, &se) {
		return se.code
	}
	return 0
}

// podsOnNode lists the pods whose spec.nodeName is node: repair never looks beyond its own node.
func (a *podAPI) podsOnNode(ctx context.Context, node string) ([]apiPod, error) {
	q := url.Values{"fieldSelector": {"spec.nodeName=" + node}}
	var list struct {
		Items []apiPod `json:"items"`
	}
	if err := a.do(ctx, http.MethodGet, "/api/v1/pods?"+q.Encode(), nil, &list); err != nil {
		return nil, fmt.Errorf("listing the pods of node %s: %w", node, err)
	}
	return list.Items, nil
}

// evict asks for an Eviction of the pod (PodDisruptionBudgets are honoured: 429 while one forbids it).
// The UID precondition makes sure it is the very pod we judged, not a namesake created since.
func (a *podAPI) evict(ctx context.Context, p *apiPod) error {
	body := map[string]any{
		"apiVersion": "policy/v1", "kind": "Eviction",
		"metadata":      map[string]string{"name": p.Metadata.Name, "namespace": p.Metadata.Namespace},
		"deleteOptions": map[string]any{"preconditions": map[string]string{"uid": p.Metadata.UID}},
	}
	return a.do(ctx, http.MethodPost, podPath(p)+"/eviction", body, nil)
}

// delete deletes the pod (no PodDisruptionBudget is consulted), with the same UID precondition.
func (a *podAPI) delete(ctx context.Context, p *apiPod) error {
	body := map[string]any{"apiVersion": "v1", "kind": "DeleteOptions",
		"preconditions": map[string]string{"uid": p.Metadata.UID}}
	return a.do(ctx, http.MethodDelete, podPath(p), body, nil)
}

func podPath(p *apiPod) string {
	return "/api/v1/namespaces/" + url.PathEscape(p.Metadata.Namespace) + "/pods/" + url.PathEscape(p.Metadata.Name)
}

func (a *podAPI) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, body)
	if err != nil {
		return err
	}
	token, err := os.ReadFile(a.tokenFile)
	if err != nil {
		return fmt.Errorf("the ServiceAccount token: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &st) != nil || st.Message == "" {
			st.Message = strings.TrimSpace(string(data))
		}
		return &apiStatusError{code: resp.StatusCode, msg: st.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the API server's answer: %w", err)
	}
	return nil
}
