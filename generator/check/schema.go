package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// SchemaRules are the rules checked in Go rather than in Rego: a Rego rule
// that reads a field of the wrong type (replicas: "3") is undefined, and an
// undefined rule denies nothing. So before the policies can prove anything,
// every object they reason about must be a valid object of its API version,
// as the API server would decode it: the right type for every field, and no
// field the API does not know (a misspelt readOnly is no readOnly).
var SchemaRules = []Rule{
	{ID: "GRAFT005", Level: LevelDeny, Title: "every StatefulSet, PersistentVolume, PersistentVolumeClaim and StorageClass is a valid object of its API version (k8s.io/api types, strict)"},
}

// schemaTypes are the kinds the policies reason about, by apiVersion and
// kind, with the typed object each must decode into.
var schemaTypes = map[[2]string]func() any{
	{"apps/v1", "StatefulSet"}:            func() any { return &appsv1.StatefulSet{} },
	{"v1", "PersistentVolume"}:            func() any { return &corev1.PersistentVolume{} },
	{"v1", "PersistentVolumeClaim"}:       func() any { return &corev1.PersistentVolumeClaim{} },
	{"storage.k8s.io/v1", "StorageClass"}: func() any { return &storagev1.StorageClass{} },
}

// schemaFindings decodes every StatefulSet, PV, PVC and StorageClass of the input strictly
// into its k8s.io/api type and denies each one that does not decode.
func schemaFindings(docs []Document) []Finding {
	var out []Finding
	for _, d := range docs {
		obj, ok := d.Contents.(map[string]any)
		if !ok {
			continue
		}
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		newObject, ok := schemaTypes[[2]string{apiVersion, kind}]
		if !ok {
			continue
		}
		err := decodeStrict(obj, newObject())
		if err == nil {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		namespace, _ := meta["namespace"].(string)
		found := strings.TrimPrefix(err.Error(), "json: ")
		out = append(out, Finding{
			ID: "GRAFT005", Level: LevelDeny, Kind: kind, Name: name, Namespace: namespace, File: d.Path,
			Field: "(object)", Found: found, Expected: "a valid " + apiVersion + " " + kind,
			Message: fmt.Sprintf("[GRAFT005] %s %s is not a valid %s %s, so no rule can prove it right: %s", kind, name, apiVersion, kind, found),
		})
	}
	return out
}

// decodeStrict decodes obj into typed as the API server does with strict
// field validation: unknown fields and wrong types are errors.
func decodeStrict(obj map[string]any, typed any) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(typed)
}
