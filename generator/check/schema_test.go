package check

import (
	"strings"
	"testing"
)

// TestSchemaFindings: a field of the wrong type, a field the API does not
// know, or a malformed quantity makes the object invalid (GRAFT005); a
// valid object, or a kind the policies do not reason about, does not.
func TestSchemaFindings(t *testing.T) {
	sts := func(spec map[string]any) Document {
		return Document{Path: "sts.yaml", Contents: map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": "cassandra", "namespace": "db"},
			"spec":     spec,
		}}
	}
	pvc := func(storage any) Document {
		return Document{Path: "pvc.yaml", Contents: map[string]any{
			"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"metadata": map[string]any{"name": "data-cassandra-0"},
			"spec":     map[string]any{"resources": map[string]any{"requests": map[string]any{"storage": storage}}},
		}}
	}
	mount := func(key string) map[string]any {
		return map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "c", "volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data", key: true}}},
		}}}}
	}
	cases := []struct {
		name string
		doc  Document
		want string // "" for valid
	}{
		{"valid", sts(map[string]any{"replicas": 3}), ""},
		{"replicas as a string", sts(map[string]any{"replicas": "3"}), "spec.replicas of type int32"},
		{"misspelt readOnly", sts(mount("readOnlly")), `unknown field "readOnlly"`},
		{"readOnly", sts(mount("readOnly")), ""},
		{"valid request", pvc("100Gi"), ""},
		{"malformed quantity", pvc("a lot"), "quantities must match"},
		{"another kind", Document{Contents: map[string]any{"apiVersion": "v1", "kind": "Service", "spec": map[string]any{"bogus": 1}}}, ""},
		{"another API version", Document{Contents: map[string]any{"apiVersion": "example.com/v1", "kind": "StatefulSet", "spec": 1}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := schemaFindings([]Document{c.doc})
			switch {
			case c.want == "" && len(got) != 0:
				t.Fatalf("a valid object was denied: %+v", got)
			case c.want != "" && (len(got) != 1 || got[0].ID != "GRAFT005" || !strings.Contains(got[0].Found, c.want)):
				t.Fatalf("findings %+v, want one GRAFT005 saying %q", got, c.want)
			}
		})
	}
}
