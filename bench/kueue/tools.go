//go:build tools

// Package tools pins Kueue's scheduler performance harness: its two programs are built from
// the sigs.k8s.io/kueue module at the version required in go.mod (see build.sh).
package tools

import (
	_ "sigs.k8s.io/kueue/test/performance/scheduler/minimalkueue"
	_ "sigs.k8s.io/kueue/test/performance/scheduler/runner"
)
