package main

// A port of bench/peers/workload.py: the same three children and the same status for a
// Trio parent. bench/peers/test_controller_runtime.py runs `--render` against
// workload.children for several specs, so the two cannot drift apart silently.
//
// The children are built as client-go apply configurations (typed, and only the fields
// set here are sent: what server-side apply wants), without namespace and owner
// reference, like workload.children; the reconciler adds both.

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

const (
	group           = "bench.kubeplan.dev"
	version         = "v1"
	kind            = "Trio"
	plural          = "trios"
	workloadLabel   = "bench.kubeplan.dev/workload"
	workloadValue   = "trio"
	childCount      = 3
	defaultImage    = "ghcr.io/example/echo:1.0.0"
	defaultPort     = 8080
	defaultReplicas = 2
)

// child is one rendered child: its kind, its apply configuration and that
// configuration's metadata (for the namespace, the owner reference and, after the
// apply, the resourceVersion the server answered with).
type child struct {
	kind string
	cfg  runtime.ApplyConfiguration
	meta *metav1ac.ObjectMetaApplyConfiguration
}

func specImage(spec TrioSpec) string {
	if spec.Image != nil {
		return *spec.Image
	}
	return defaultImage
}

func specPort(spec TrioSpec) int32 {
	if spec.Port != nil {
		return int32(*spec.Port)
	}
	return defaultPort
}

func specReplicas(spec TrioSpec) int32 {
	if spec.Replicas != nil {
		return int32(*spec.Replicas)
	}
	return defaultReplicas
}

func container(name, image string, port int32) *corev1ac.ContainerApplyConfiguration {
	env := make([]*corev1ac.EnvVarApplyConfiguration, 0, 15)
	for i := range 14 {
		env = append(env, corev1ac.EnvVar().
			WithName(fmt.Sprintf("ECHO_SETTING_%d", i)).WithValue(fmt.Sprintf("value-%d", i)))
	}
	env = append(env, corev1ac.EnvVar().WithName("POD_NAME").WithValueFrom(
		corev1ac.EnvVarSource().WithFieldRef(corev1ac.ObjectFieldSelector().
			WithFieldPath("metadata.name"))))
	probe := func(path string, period int32) *corev1ac.ProbeApplyConfiguration {
		return corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().
			WithPath(path).WithPort(intstr.FromInt32(port))).WithPeriodSeconds(period)
	}
	return corev1ac.Container().
		WithName(name).
		WithImage(image).
		WithArgs("--listen", fmt.Sprintf(":%d", port), "--log-format", "json").
		WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(port)).
		WithEnv(env...).
		WithResources(corev1ac.ResourceRequirements().
			WithRequests(corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			}).
			WithLimits(corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("1"),
				corev1.ResourceMemory: resource.MustParse("512Mi"),
			})).
		WithReadinessProbe(probe("/ready", 5)).
		WithLivenessProbe(probe("/live", 10)).
		WithVolumeMounts(corev1ac.VolumeMount().WithName("config").WithMountPath("/etc/echo"))
}

// children renders the Deployment, Service and ConfigMap of parent `name` with `spec`,
// fresh on every call (workload.children).
func children(name string, spec TrioSpec) []child {
	labels := func() map[string]string {
		return map[string]string{"app.kubernetes.io/name": "echo", "app.kubernetes.io/instance": name}
	}
	metaLabels := labels()
	metaLabels[workloadLabel] = workloadValue
	image, port := specImage(spec), specPort(spec)

	deployment := appsv1ac.Deployment(name, "").
		WithLabels(metaLabels).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(specReplicas(spec)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels())).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels()).
				WithAnnotations(map[string]string{"echo/config": "v7"}).
				WithSpec(corev1ac.PodSpec().
					WithContainers(
						container("echo", image, port),
						container("metrics", "ghcr.io/example/exporter:0.9.1", 9100),
					).
					WithVolumes(corev1ac.Volume().WithName("config").
						WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(name))))))

	service := corev1ac.Service(name, "").
		WithLabels(metaLabels).
		WithSpec(corev1ac.ServiceSpec().
			WithSelector(labels()).
			WithPorts(
				corev1ac.ServicePort().WithName("http").WithPort(80).
					WithTargetPort(intstr.FromInt32(port)),
				corev1ac.ServicePort().WithName("metrics").WithPort(9100).
					WithTargetPort(intstr.FromInt32(9100)),
			))

	routes := make([]string, 0, 30)
	for i := range 30 {
		routes = append(routes, fmt.Sprintf("route_%d: /echo/%d?delay=%dms", i, i, i*10))
	}
	configMap := corev1ac.ConfigMap(name, "").
		WithLabels(metaLabels).
		WithData(map[string]string{"echo.yaml": strings.Join(routes, "\n"), "log-level": "info"})

	// the constructors set an empty namespace field: cleared, as workload.children has none
	for _, m := range []*metav1ac.ObjectMetaApplyConfiguration{
		deployment.ObjectMetaApplyConfiguration, service.ObjectMetaApplyConfiguration,
		configMap.ObjectMetaApplyConfiguration,
	} {
		m.Namespace = nil
	}
	return []child{
		{"Deployment", deployment, deployment.ObjectMetaApplyConfiguration},
		{"Service", service, service.ObjectMetaApplyConfiguration},
		{"ConfigMap", configMap, configMap.ObjectMetaApplyConfiguration},
	}
}

// status is the parent's status once its children are written (workload.status).
func status(spec TrioSpec) TrioStatus {
	children, image := int64(childCount), specImage(spec)
	return TrioStatus{Children: &children, Image: &image}
}
