package publish

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
)

// tamperedGate is graft's policy gate run on the builds publish hands it,
// with one root's build changed first: what the gate decides must come from
// every root's build.
type tamperedGate struct {
	root     string
	old, new string
	roots    []string
}

func (g *tamperedGate) Check(ctx context.Context, dir string, builds map[string][]byte, rec *record.Record) (Verdict, error) {
	for r := range builds {
		g.roots = append(g.roots, r)
	}
	if g.root != "" {
		b := builds[g.root]
		if !bytes.Contains(b, []byte(g.old)) {
			return Verdict{}, errors.New("the tampered root's build lacks " + g.old)
		}
		builds[g.root] = bytes.Replace(b, []byte(g.old), []byte(g.new), 1)
	}
	return policyGate{}.Check(ctx, dir, builds, rec)
}

// TestPublishSplitOverlay: a migration above one shard is published as a
// split overlay, every root committed; the gate sees every root's build,
// and a denial in one storage root alone stops the publish.
func TestPublishSplitOverlay(t *testing.T) {
	r, m, rec := largeRemote(t, 120, "a 120-member publish")
	gate := &tamperedGate{root: "storage-002", old: "- us-east-1c\n", new: "- us-east-1a\n"}
	if _, err := Publish(context.Background(), m, rec, Options{Checker: gate}); !errors.Is(err, ErrDenied) {
		t.Fatalf("a zone changed in storage-002's build: err = %v, want ErrDenied", err)
	}
	roots := (120 + render.ShardMembers - 1) / render.ShardMembers
	if len(gate.roots) != roots+1 {
		t.Errorf("the gate was given the builds of %v, want %d storage roots and the workload", gate.roots, roots)
	}
	if r.head(t, branch) != "" {
		t.Fatal("a denied overlay was pushed")
	}
	res := mustPublish(t, m, rec, Options{Checker: &tamperedGate{}})
	if !res.Pushed {
		t.Fatalf("nothing pushed: %+v", res)
	}
	for i := range roots {
		root := render.StorageRoot(i)
		if got := r.show(t, branch, "overlays/cassandra-3node/"+root+"/"+render.KustomizationFile); !strings.HasPrefix(got, render.Marker) {
			t.Errorf("%s's kustomization in the branch: %q", root, got)
		}
	}
	if got := r.show(t, branch, "overlays/cassandra-3node/"+render.KustomizationFile); strings.Contains(got, render.PVFile) {
		t.Errorf("the workload root lists the PVs:\n%s", got)
	}
}
