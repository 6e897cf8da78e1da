package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

func planCommand() *command {
	return &command{
		name:    "plan",
		summary: "show every snapshot, copy and volume clone would create; changes nothing",
		usage:   "plan [-o text|json]",
		outputs: []string{"text", "json"},
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				m, eng, _, err := newEngine(ctx, e)
				if err != nil {
					return err
				}
				inv, diffs, err := discoverAndCompare(ctx, e, eng)
				if err != nil {
					return err
				}
				p, err := eng.Plan(ctx, inv)
				if err != nil {
					return err
				}
				for _, d := range diffs {
					p.Warnings = append(p.Warnings, "the source changed since graft discover: "+d+" (re-run graft discover)")
				}
				if e.output == "json" {
					return p.WriteJSON(e.stdout)
				}
				if err := writeWorkload(e.stdout, m); err != nil {
					return err
				}
				return p.WriteTextColor(e.stdout, e.colorOut)
			}
		},
	}
}

// writeWorkload says, before the plan, which StatefulSets an operator will
// create for the spec's workload, as graft derived them: the names the
// claims are given, so that a reviewer sees them before anything is
// cloned. It writes nothing for the kinds that list their StatefulSets.
func writeWorkload(w io.Writer, m *spec.Migration) error {
	t := &m.Spec.Target
	if !t.Derives() {
		return nil
	}
	// The spec's names are printed as termtext.Value prints them: a rack
	// or nodeSet name is a free string (cass-operator cleans it up), so
	// it is quoted when a terminal would act on it, and a line is a line.
	var what string
	if t.WorkloadKind() == spec.WorkloadECK {
		what = "ECK Elasticsearch " + termtext.Value(t.Workload.Elasticsearch.Name)
	} else {
		dc := t.Workload.CassandraDatacenter
		what = "cass-operator CassandraDatacenter " + termtext.Value(dc.Name) + " (cluster " + strconv.Quote(dc.ClusterName) + ")"
	}
	if _, err := fmt.Fprintf(w, "Workload %s: graft derives the StatefulSets the operator creates:\n", what); err != nil {
		return err
	}
	for _, g := range m.Spec.Groups() {
		sts, _ := m.Spec.StatefulSet(g.StatefulSet)
		if _, err := fmt.Fprintf(w, "  %s %s: StatefulSet %s, %d member(s) in %s, claims %s-%s-<ordinal>\n", groupWord(t), termtext.Value(g.Name), termtext.Value(g.StatefulSet), sts.Replicas, termtext.Value(g.Zone), termtext.Value(g.ClaimTemplates[0]), termtext.Value(g.StatefulSet)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

func groupWord(t *spec.Target) string {
	if t.WorkloadKind() == spec.WorkloadECK {
		return "nodeSet"
	}
	return "rack"
}
