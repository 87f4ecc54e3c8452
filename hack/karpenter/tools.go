//go:build tools

// Package tools pins Karpenter's kwok cloud provider (sigs.k8s.io/karpenter/kwok),
// which hack/build-karpenter.sh builds unchanged. Kept apart from hack/tools so that a
// Karpenter bump never rebuilds Kubernetes (hack/tools' go.mod keys that cache).
package tools

import _ "sigs.k8s.io/karpenter/kwok"
