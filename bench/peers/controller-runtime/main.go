// The benchmark workload as a controller-runtime operator: the Go peer of
// bench/peers/kubeplan_operator.py and bench/peers/kopf_operator.py, written the way
// the controller-runtime (kubebuilder) book teaches.
//
//		controller-runtime-peer --kubeconfig K [--workers 8]   # or KUBECONFIG=K
//		controller-runtime-peer --render NAME [--spec JSON]    # print the children, exit
//
//	  - For Trio parents (spec changes only: GenerationChangedPredicate), Owns their
//	    Deployments, Services and ConfigMaps (any change to a child queues its parent
//	    again, so drift in any field is repaired; no predicate there: ConfigMaps have no
//	    generation, and a Deployment's labels can drift without one); children are written by server-side apply (forced, field
//	    manager "trio") with a controller owner reference; the status through the status
//	    subresource; one Event (events.k8s.io/v1, the manager's recorder) per parent whose
//	    children were written.
//	  - No leader election, no metrics or health endpoints (nothing listens).
//	  - Client-side rate limiting off (QPS -1; controller-runtime's own default when the
//	    kubeconfig sets none): neither Python peer throttles its client, and the server
//	    (API priority and fairness on the real one) is what should push back.
//	  - --workers concurrent reconciles (default 8, what the harness gives kubeplan; kopf
//	    runs every object's handler in its own task, so it has no such bound).
//	  - The informer cache drops managedFields (cache.TransformStripManagedFields, a
//	    one-line option of controller-runtime's): the reconciler never reads them.
//
// The benchmark hooks, which a user never needs: SIGUSR1 queues every cached parent
// again and, once the queue has settled, prints {"event": "resync", "syncs": N,
// "seconds": S} (kubeplan's peer prints the same); SIGTERM/SIGINT stop it cleanly.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

func emit(fields map[string]any) {
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

// render prints the children of parent `name` with the JSON `spec` as a JSON array,
// without namespace and owner reference: the test compares it with workload.children.
func render(name, spec string) error {
	var s TrioSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return fmt.Errorf("--spec: %w", err)
	}
	out := make([]runtime.ApplyConfiguration, 0, childCount)
	for _, c := range children(name, s) {
		out = append(out, c.cfg)
	}
	text, err := json.Marshal(map[string]any{"children": out, "status": status(s)})
	if err != nil {
		return err
	}
	fmt.Println(string(text))
	return nil
}

func main() {
	// --kubeconfig is registered on flag.CommandLine by controller-runtime's config
	// package; ctrl.GetConfig reads it, else $KUBECONFIG
	workers := flag.Int("workers", 8, "concurrent reconciles")
	renderName := flag.String("render", "", "print the children of a parent of this name and exit")
	renderSpec := flag.String("spec", `{"replicas": 2, "image": "ghcr.io/example/echo:1.0.0", "port": 8080}`,
		"the parent's spec for --render (JSON)")
	flag.Parse()
	if *renderName != "" {
		if err := render(*renderName, *renderSpec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	if err := run(*workers); err != nil {
		fmt.Fprintln(os.Stderr, "controller-runtime-peer:", err)
		os.Exit(1)
	}
}

func run(workers int) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limiter (see the top of this file)
	cfg.UserAgent = "kubeplan-bench-controller-runtime"

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := addTrioTypes(scheme); err != nil {
		return err
	}
	grace := 5 * time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		LeaderElection:          false,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		GracefulShutdownTimeout: &grace,
		Cache:                   cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		return err
	}

	r := &reconciler{Client: mgr.GetClient(), recorder: mgr.GetEventRecorder("trio")}
	resync := make(chan event.GenericEvent)
	err = ctrl.NewControllerManagedBy(mgr).
		Named("trio").
		// the parent's own status writes change no generation: no reconcile for them
		// (the kubebuilder book's predicate); its spec changes, creation and deletion do
		For(&Trio{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		WatchesRawSource(source.Channel(resync, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
	if err != nil {
		return err
	}

	ctx := ctrl.SetupSignalHandler()
	go resyncOnSignal(ctx, mgr, r, resync)
	return mgr.Start(ctx)
}

// resyncOnSignal: on SIGUSR1, every cached parent queued again; once no reconcile has
// run for 0.2 s (kubeplan's peer settles with the same quiet time), one JSON line.
func resyncOnSignal(ctx context.Context, mgr ctrl.Manager, r *reconciler, out chan<- event.GenericEvent) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGUSR1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
		}
		started := time.Now()
		before := r.syncs.Load()
		var parents TrioList
		if err := mgr.GetCache().List(ctx, &parents); err != nil {
			ctrl.Log.Error(err, "resync: listing the cached parents")
			continue
		}
		for i := range parents.Items {
			select {
			case out <- event.GenericEvent{Object: &parents.Items[i]}:
			case <-ctx.Done():
				return
			}
		}
		const quiet = 200 * time.Millisecond
		deadline := started.Add(120 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			done := r.syncs.Load() - before
			idle := r.inflight.Load() == 0 && time.Since(time.Unix(0, r.lastDone.Load())) >= quiet
			if idle && (done >= int64(len(parents.Items)) || time.Since(started) >= time.Second) {
				break
			}
		}
		emit(map[string]any{"event": "resync", "syncs": r.syncs.Load() - before,
			"seconds": float64(time.Since(started).Milliseconds()) / 1000})
	}
}
