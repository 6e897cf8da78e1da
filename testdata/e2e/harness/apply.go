package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the field manager Flux's kustomize-controller uses for
// server-side apply.
const FieldManager = "kustomize-controller"

// Kustomize builds an overlay with `kubectl kustomize` (Argo CD's path; Flux
// runs the same kustomize API in-process) and returns its objects.
func Kustomize(ctx context.Context, dir string) ([]*unstructured.Unstructured, error) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, fmt.Errorf("kubectl not found: %w", err)
	}
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %v: %s", dir, err, stderr.String())
	}
	return DecodeYAML(stdout.Bytes())
}

// DecodeYAML splits a multi-document YAML stream into objects.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Applier applies objects with server-side apply, as Flux does.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewApplier returns an Applier for the cluster.
func (c *Cluster) NewApplier() (*Applier, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// ApplyError is the failure of one object's apply.
type ApplyError struct {
	Object string // Kind/namespace/name
	Err    error
}

func (e ApplyError) Error() string { return e.Object + ": " + e.Err.Error() }

// Ref names an object for messages: Kind/namespace/name.
func Ref(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return u.GetKind() + "/" + ns + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetName()
}

// Apply server-side applies every object with the kustomize-controller field
// manager and forced ownership, in Flux's order: namespaces first, then
// cluster-scoped objects, then the rest. Unlike a single kubectl call it
// applies every object even when some fail, and returns each failure.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) []ApplyError {
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	rank := func(u *unstructured.Unstructured) int {
		switch u.GetKind() {
		case "Namespace", "CustomResourceDefinition":
			return 0
		case "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding":
			return 1
		default:
			return 2
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	var errs []ApplyError
	for _, u := range sorted {
		if err := a.ApplyOne(ctx, u); err != nil {
			errs = append(errs, ApplyError{Object: Ref(u), Err: err})
		}
	}
	return errs
}

// ApplyOne server-side applies one object.
func (a *Applier) ApplyOne(ctx context.Context, u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.mapper.Reset()
		if m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return err
		}
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		ri = a.dyn.Resource(m.Resource).Namespace(ns)
	}
	_, err = ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	return err
}

// Resource returns the dynamic client for a GroupVersionResource.
func (a *Applier) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return a.dyn.Resource(gvr)
}

// JoinApplyErrors formats apply failures for a test message.
func JoinApplyErrors(errs []ApplyError) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}
