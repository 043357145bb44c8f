// Command etcd is etcd's own server, built from its module at the version the
// kube-apiserver release in ../go.mod was tested with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
