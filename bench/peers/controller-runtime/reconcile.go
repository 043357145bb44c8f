package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fieldManager is the one field manager of every apply (the kubeplan peer's is "trio" too).
const fieldManager = "trio"

// reconciler brings one Trio's children and status in line with its spec, the way the
// controller-runtime book teaches with server-side apply: render every child, apply it
// (forced, one field manager), then write the status if it differs. An apply that
// changes nothing is a no-op at the server (no new resourceVersion, no watch event),
// so the reconciler does not compare before applying.
//
// The counters serve the benchmark's resync report (SIGUSR1 in main.go).
type reconciler struct {
	client.Client
	recorder events.EventRecorder

	syncs    atomic.Int64
	inflight atomic.Int64
	lastDone atomic.Int64 // UnixNano of the last finished reconcile
}

func emptyChild(kind string) client.Object {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}
	case "Service":
		return &corev1.Service{}
	default:
		return &corev1.ConfigMap{}
	}
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.inflight.Add(1)
	defer func() {
		r.syncs.Add(1)
		r.lastDone.Store(time.Now().UnixNano())
		r.inflight.Add(-1)
	}()

	var trio Trio
	if err := r.Get(ctx, req.NamespacedName, &trio); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !trio.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the garbage collector removes the children
	}

	owner := metav1ac.OwnerReference().
		WithAPIVersion(groupVersion.String()).WithKind(kind).
		WithName(trio.Name).WithUID(trio.UID).
		WithController(true).WithBlockOwnerDeletion(true)
	created, changed := 0, 0
	for _, c := range children(trio.Name, trio.Spec) {
		c.meta.WithNamespace(trio.Namespace).WithOwnerReferences(owner)
		// the cached copy says whether this apply creates or changes the child (for the
		// Event below); the apply itself does not depend on it
		before := ""
		cached := emptyChild(c.kind)
		err := r.Get(ctx, types.NamespacedName{Namespace: trio.Namespace, Name: trio.Name}, cached)
		switch {
		case err == nil:
			before = cached.GetResourceVersion()
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
		if err := r.Apply(ctx, c.cfg, client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return ctrl.Result{}, fmt.Errorf("apply %s %s/%s: %w", c.kind, trio.Namespace, trio.Name, err)
		}
		switch after := c.meta.ResourceVersion; {
		case before == "":
			created++
		case after != nil && *after != before:
			changed++
		}
	}

	want := status(trio.Spec)
	if !sameStatus(trio.Status, want) {
		patch := client.MergeFrom(trio.DeepCopy())
		trio.Status = want
		if err := r.Status().Patch(ctx, &trio, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	// one Event per parent whose children were written, as both Python peers post
	if created+changed > 0 {
		reason, verb := "Updated", "updated"
		if created == childCount {
			reason, verb = "Created", "created"
		}
		r.recorder.Eventf(&trio, nil, corev1.EventTypeNormal, reason, reason,
			"%s Deployment, Service and ConfigMap %s/%s", verb, trio.Namespace, trio.Name)
	}
	return ctrl.Result{}, nil
}

func sameStatus(have, want TrioStatus) bool {
	return have.Children != nil && *have.Children == *want.Children &&
		have.Image != nil && *have.Image == *want.Image
}
