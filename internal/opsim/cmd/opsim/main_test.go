package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/graftctl/graft/internal/opsim"
)

// TestRun: opsim prints opsim.FromYAML's StatefulSets as a JSON array ([]
// for none) and refuses what is not a stream of objects with exit 2,
// printing nothing on standard output.
func TestRun(t *testing.T) {
	const es = "apiVersion: elasticsearch.k8s.elastic.co/v1\nkind: Elasticsearch\nmetadata: {name: logs, namespace: es}\nspec:\n  nodeSets: [{name: hot, count: 2}, {name: warm, count: 1}]\n"
	for _, c := range []struct {
		name, in string
		code     int
		names    []string
		stderr   string
	}{
		{"elasticsearch", es, 0, []string{"logs-es-hot", "logs-es-warm"}, ""},
		{"a JSON stream", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
{"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "metadata": {"name": "logs"}, "spec": {"nodeSets": [{"name": "hot", "count": 1}]}}
`, 0, []string{"logs-es-hot"}, ""},
		{"no operator resource", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", 0, []string{}, ""},
		{"not YAML", "kind: [\n", 2, nil, "want a YAML or JSON stream of Kubernetes objects"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(strings.NewReader(c.in), &out, &errOut); code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), c.stderr) {
				t.Errorf("stderr %q, want it to say %q", errOut.String(), c.stderr)
			}
			if c.code != 0 {
				if out.Len() != 0 {
					t.Errorf("stdout %q after a refusal", out.String())
				}
				return
			}
			var got []appsv1.StatefulSet
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || got == nil {
				t.Fatalf("stdout %q is not a JSON array of StatefulSets: %v", out.String(), err)
			}
			want, err := opsim.FromYAML([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, s := range got {
				names = append(names, s.Name)
				if s.Namespace != want[i].Namespace || *s.Spec.Replicas != *want[i].Spec.Replicas || s.Spec.ServiceName != want[i].Spec.ServiceName {
					t.Errorf("StatefulSet %d: %s/%s x%d service %s, FromYAML gives %s/%s x%d service %s", i, s.Namespace, s.Name, *s.Spec.Replicas,
						s.Spec.ServiceName, want[i].Namespace, want[i].Name, *want[i].Spec.Replicas, want[i].Spec.ServiceName)
				}
			}
			if strings.Join(names, ",") != strings.Join(c.names, ",") || len(want) != len(got) {
				t.Errorf("StatefulSets %v, want %v (FromYAML gives %d)", names, c.names, len(want))
			}
		})
	}
}
