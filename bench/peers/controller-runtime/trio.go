package main

// The Trio parent as a tiny hand-written typed API, what `kubebuilder create api` would
// scaffold (with controller-gen writing DeepCopy; written by hand here, it is short).
//
// Why typed and not unstructured.Unstructured: it is what a Go team writes, the
// informer cache then holds small structs instead of nested maps (less memory, less
// decoding work), and the reconciler reads fields without type assertions. The spec's
// fields are pointers so that "absent" can be told from zero, as workload.py's
// spec.get(key, default) does. Fields the CRD preserves but this struct does not know
// are ignored: the operator reads only these three, and it never writes the spec.

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var groupVersion = schema.GroupVersion{Group: group, Version: version}

type TrioSpec struct {
	Replicas *int64  `json:"replicas,omitempty"`
	Image    *string `json:"image,omitempty"`
	Port     *int64  `json:"port,omitempty"`
}

type TrioStatus struct {
	Children *int64  `json:"children,omitempty"`
	Image    *string `json:"image,omitempty"`
}

type Trio struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TrioSpec   `json:"spec,omitempty"`
	Status            TrioStatus `json:"status,omitempty"`
}

type TrioList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Trio `json:"items"`
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func (in *Trio) DeepCopyInto(out *Trio) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = TrioSpec{Replicas: copyPtr(in.Spec.Replicas), Image: copyPtr(in.Spec.Image),
		Port: copyPtr(in.Spec.Port)}
	out.Status = TrioStatus{Children: copyPtr(in.Status.Children), Image: copyPtr(in.Status.Image)}
}

func (in *Trio) DeepCopy() *Trio {
	if in == nil {
		return nil
	}
	out := new(Trio)
	in.DeepCopyInto(out)
	return out
}

func (in *Trio) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *TrioList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := &TrioList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Trio, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

func addTrioTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(groupVersion, &Trio{}, &TrioList{})
	metav1.AddToGroupVersion(scheme, groupVersion)
	return nil
}
