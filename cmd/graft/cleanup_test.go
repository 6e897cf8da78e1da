package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/spec"
)

// TestCleanupReplanned: after the confirmation, what the fresh plan no
// longer deletes is not deleted and is reported in Keep with the fresh
// plan's reason (it was dropped without a word, and the command exited 0
// as if the volume named with --volume had been deleted); a named volume
// the fresh plan keeps (recorded meanwhile) refuses with exit 2, as it
// does before the confirmation, and nothing is deleted.
func TestCleanupReplanned(t *testing.T) {
	m := &spec.Migration{Metadata: spec.Metadata{Name: "cli"}}
	m.Spec.Target.Region = "us-east-1"
	item := func(kind, id, keep string) ebs.CleanupItem {
		return ebs.CleanupItem{Kind: kind, ID: id, Member: "cassandra-0", Keep: keep}
	}
	planned := func() *ebs.CleanupPlan {
		return &ebs.CleanupPlan{Delete: []ebs.CleanupItem{item("snapshot", "snap-1", ""), item("volume", "vol-a", ""), item("volume", "vol-b", "")}}
	}
	fresh := &ebs.CleanupPlan{
		Delete: []ebs.CleanupItem{item("snapshot", "snap-1", "")},
		Keep:   []ebs.CleanupItem{item("volume", "vol-a", "the record references it (PVC data-cassandra-0)")},
	}

	cp := planned()
	dropped, err := replanned(cp, fresh, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Delete) != 1 || cp.Delete[0].ID != "snap-1" {
		t.Errorf("deletes %+v, want snap-1 only", cp.Delete)
	}
	reasons := map[string]string{}
	for _, it := range cp.Keep {
		reasons[it.ID] = it.Keep
	}
	if len(dropped) != 2 || !strings.Contains(reasons["vol-a"], "changed since the plan: the record references it (PVC data-cassandra-0); not deleted") ||
		!strings.Contains(reasons["vol-b"], "changed since the plan: no longer in it; not deleted") {
		t.Errorf("dropped %+v, kept %v; want vol-a and vol-b kept with their reasons", dropped, reasons)
	}

	// A share and its snapshot have one id: each is matched by its kind.
	cp = &ebs.CleanupPlan{Delete: []ebs.CleanupItem{item("share", "snap-1", ""), item("snapshot", "snap-1", "")}}
	if _, err := replanned(cp, fresh, nil, m); err != nil || len(cp.Delete) != 1 || cp.Delete[0].Kind != "snapshot" {
		t.Errorf("a share the fresh plan no longer removes: deletes %+v (%v), want the snapshot only", cp.Delete, err)
	}

	cp = planned()
	_, err = replanned(cp, fresh, []string{"vol-a"}, m)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--volume vol-a: graft cleanup does not delete it: the record references it") || !strings.Contains(err.Error(), "nothing was deleted") {
		t.Errorf("named vol-a, kept by the fresh plan: %v; want a usage error naming it", err)
	}
	if code := codeOf(err); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
}
