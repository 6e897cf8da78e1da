package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
)

// TestDemoCrossAccount runs `graft demo --cross-account` offline: the
// volumes are made in the second account from its copies of the shared
// snapshots, encrypted with its key, and nothing is left shared (the demo
// fails otherwise, as it fails when a source resource was touched).
func TestDemoCrossAccount(t *testing.T) {
	work, _, stderr := demoOK(t, "--cross-account")
	for _, want := range []string{"shared snapshot with the target account", "unshared snapshot with the target account", "target account " + demoTargetAccount} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the demo's log lacks %q", want)
		}
	}
	specYAML, err := os.ReadFile(filepath.Join(work, "graft.yaml"))
	if err != nil || !strings.Contains(string(specYAML), "id: \""+demoTargetAccount+"\"") {
		t.Fatalf("the demo spec has no target account: %v\n%s", err, specYAML)
	}
	rec, err := record.Load(filepath.Join(work, "gitops", "overlays", "cassandra-demo", "graft.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Volumes) != 3 {
		t.Fatalf("record has %d volumes", len(rec.Volumes))
	}
	for _, v := range rec.Volumes {
		if !strings.Contains(v.KMSKeyID, ":"+demoTargetAccount+":key/") || v.CopiedSnapshot == "" {
			t.Errorf("volume %s: key %s, copy %q: want the target account's key and copy", v.TargetVolume, v.KMSKeyID, v.CopiedSnapshot)
		}
	}
}
