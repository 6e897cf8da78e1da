package check

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestWorkloadRecordFailsClosed: a record whose workload (issue 15) the
// gate cannot prove is refused by graft check's record validation (an
// input error, exit 2) or denied by GRAFT070, never passed. The policies
// judge it on their own under conftest, which validates nothing.
func TestWorkloadRecordFailsClosed(t *testing.T) {
	cases := []struct {
		name, from string
		edit       func(t *testing.T, lk map[string]any)
	}{
		{"unknown kind", "claims-only", func(t *testing.T, lk map[string]any) { set(t, lk, "helm", "workload", "kind") }},
		{"kind unset", "eck", func(t *testing.T, lk map[string]any) { del(t, lk, "workload", "kind") }},
		{"workload not an object", "cass-operator", func(t *testing.T, lk map[string]any) { lk["workload"] = "cass-operator" }},
		{"resource of another kind", "cass-operator", func(t *testing.T, lk map[string]any) { set(t, lk, "Elasticsearch", "workload", "resource", "kind") }},
		{"resource of another API version", "eck", func(t *testing.T, lk map[string]any) {
			set(t, lk, "elasticsearch.k8s.elastic.co/v1beta1", "workload", "resource", "apiVersion")
		}},
		{"resource unnamed", "eck", func(t *testing.T, lk map[string]any) { del(t, lk, "workload", "resource", "name") }},
		{"claims-only with a resource", "claims-only", func(t *testing.T, lk map[string]any) {
			set(t, lk, map[string]any{"apiVersion": "cassandra.datastax.com/v1beta1", "kind": "CassandraDatacenter", "name": "dc1"}, "workload", "resource")
		}},
		{"unknown cass-operator release", "cass-operator", func(t *testing.T, lk map[string]any) { set(t, lk, "v1.9", "workload", "operatorVersion") }},
		{"cluster name unset", "cass-operator", func(t *testing.T, lk map[string]any) { del(t, lk, "workload", "clusterName") }},
		{"no groups", "cass-operator", func(t *testing.T, lk map[string]any) { set(t, lk, []any{}, "workload", "groups") }},
		{"rack without zone", "cass-operator", func(t *testing.T, lk map[string]any) { del(t, lk, "workload", "groups", "1", "zone") }},
		{"nodeSet unnamed", "eck", func(t *testing.T, lk map[string]any) { del(t, lk, "workload", "groups", "0", "name") }},
		{"no claim templates", "claims-only", func(t *testing.T, lk map[string]any) {
			set(t, lk, []any{}, "workload", "groups", "0", "claimTemplates")
		}},
		{"group twice", "claims-only", func(t *testing.T, lk map[string]any) {
			groups := get(lk, "workload", "groups").([]any)
			set(t, lk, append(groups, clone(t, groups[0].(map[string]any))), "workload", "groups")
		}},
		{"volume of no group", "eck", func(t *testing.T, lk map[string]any) {
			set(t, lk, "logs-es-data-a-0", "workload", "groups", "0", "statefulSet")
		}},
		{"volume of no claim template", "cass-operator", func(t *testing.T, lk map[string]any) {
			set(t, lk, []any{"commitlog"}, "workload", "groups", "2", "claimTemplates")
		}},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.from+"/"+c.name, func(t *testing.T) {
			dir := filepath.Join(fixtureRoot, "pass", c.from)
			data, err := os.ReadFile(filepath.Join(dir, lock))
			if err != nil {
				t.Fatal(err)
			}
			var lk map[string]any
			if err := yaml.Unmarshal(data, &lk); err != nil {
				t.Fatal(err)
			}
			c.edit(t, lk)
			out, err := yaml.Marshal(lk)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), lock)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			in, err := Load(ctx, []string{dir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := in.AddRecord(path); err != nil && !strings.Contains(err.Error(), "field workload not found") {
				// graft check refuses it before the policies run.
				if !errors.Is(err, ErrInput) {
					t.Fatalf("refused, but not as an input error: %v", err)
				}
				return
			}
			// Accepted: GRAFT070 denies it.
			in, err = Load(ctx, []string{dir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			addFixtureRecord(t, in, path)
			rep, err := engine(t).Check(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ruleIDs(rep), "GRAFT070") {
				for _, f := range rep.Findings {
					t.Log(f.Message)
				}
				t.Errorf("rules %v fired, want GRAFT070", ruleIDs(rep))
			}
		})
	}
}
