//go:build tools

// Package realkube pins the Kubernetes commands this module builds, so that
// `go mod tidy` keeps their dependencies in go.sum.
package realkube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
