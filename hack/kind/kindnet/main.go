// Command kindnet-lite is the pod network of the locally built kind nodes: the
// part of kind's kindnetd that a test cluster on one Docker bridge needs.
//
// kind's default CNI, kindnetd, lives in its own repository, which the Go module
// proxy reachable here does not serve, so it cannot be built from its module.
// This stand-in does what kindnetd does for routing, with the standard library
// only, and is deployed by the same manifest kind templates
// (/kind/manifests/default-cni.yaml in the node image):
//
//   - writes /etc/cni/net.d/10-kindnet.conflist for this node: the ptp plugin
//     with host-local IPAM over the node's spec.podCIDRs, and portmap;
//   - keeps a route to every other node's pod CIDRs via that node's InternalIP
//     (`ip route replace`, busybox's ip in the image).
//
// It does not masquerade traffic leaving the cluster and has no network
// policies; nothing in the e2e suite needs either.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	saDir    = "/var/run/secrets/kubernetes.io/serviceaccount"
	cniFile  = "/etc/cni/net.d/10-kindnet.conflist"
	interval = 10 * time.Second
)

type nodeList struct {
	Items []node `json:"items"`
}

type node struct {
	Metadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR  string   `json:"podCIDR"`
		PodCIDRs []string `json:"podCIDRs"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

func (n node) cidrs() []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

func (n node) internalIP(v6 bool) string {
	for _, a := range n.Status.Addresses {
		ip := net.ParseIP(a.Address)
		if a.Type == "InternalIP" && ip != nil && (ip.To4() == nil) == v6 {
			return a.Address
		}
	}
	return ""
}

type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient() (*client, error) {
	endpoint := os.Getenv("CONTROL_PLANE_ENDPOINT") // kind patches this in
	if endpoint == "" {
		endpoint = net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	}
	caPEM, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	return &client{
		base: "https://" + endpoint,
		http: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}

func (c *client) nodes() ([]node, error) {
	// The token is projected and rotated: read it for every request.
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, c.base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var list nodeList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func conflist(cidrs []string) ([]byte, error) {
	ranges := make([][]map[string]string, 0, len(cidrs))
	routes := []map[string]string{}
	for _, c := range cidrs {
		ranges = append(ranges, []map[string]string{{"subnet": c}})
		if strings.Contains(c, ":") {
			routes = append(routes, map[string]string{"dst": "::/0"})
		} else {
			routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
		}
	}
	conf := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  routes,
					"ranges":  ranges,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// writeIfChanged replaces the file atomically, and only when its content changes
// (containerd reloads the CNI config on every write).
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

// reconcile writes this node's CNI config and routes to the other nodes' pod
// CIDRs. routes remembers what is set (and what failed, so it is logged once).
func reconcile(c *client, self string, routes map[string]string) error {
	nodes, err := c.nodes()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Metadata.Name == self {
			cidrs := n.cidrs()
			if len(cidrs) == 0 {
				return fmt.Errorf("node %s has no spec.podCIDRs yet", self)
			}
			data, err := conflist(cidrs)
			if err != nil {
				return err
			}
			if changed, err := writeIfChanged(cniFile, data); err != nil {
				return err
			} else if changed {
				log.Printf("wrote %s for pod CIDRs %v", cniFile, cidrs)
			}
			continue
		}
		// kwok's simulated nodes have pod CIDRs but no host to route to.
		if n.Metadata.Annotations["kwok.x-k8s.io/node"] == "fake" {
			continue
		}
		for _, cidr := range n.cidrs() {
			via := n.internalIP(strings.Contains(cidr, ":"))
			if via == "" || routes[cidr] == via || routes[cidr] == "failed:"+via {
				continue
			}
			out, err := exec.Command("ip", "route", "replace", cidr, "via", via).CombinedOutput()
			if err != nil {
				log.Printf("ip route replace %s via %s: %v: %s", cidr, via, err, strings.TrimSpace(string(out)))
				routes[cidr] = "failed:" + via
				continue
			}
			routes[cidr] = via
			log.Printf("route %s via %s (node %s)", cidr, via, n.Metadata.Name)
		}
	}
	return nil
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	self := os.Getenv("NODE_NAME")
	if self == "" {
		self, _ = os.Hostname()
	}
	c, err := newClient()
	if err != nil {
		log.Fatalf("kindnet-lite: %v", err)
	}
	log.Printf("kindnet-lite on node %s, API server %s", self, c.base)
	routes := map[string]string{}
	for {
		if err := reconcile(c, self, routes); err != nil {
			log.Printf("sync: %v", err)
		}
		time.Sleep(interval)
	}
}
