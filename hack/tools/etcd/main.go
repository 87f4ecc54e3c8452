// Command etcd is the etcd server, built from the etcd Go module at the
// version go.mod pins. The etcd repository's own main package cannot be
// "go install"ed (its go.mod replaces sibling modules with local folders),
// so this two-line wrapper is the whole binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
