package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// grown is the example tree grown to n members of one StatefulSet.
func grown(t *testing.T, n int) (string, *spec.Migration, *record.Record) {
	t.Helper()
	root, m, rec := exampleTree(t)
	m.Spec.Target.StatefulSets[0].Replicas = n
	three := rec.Volumes
	rec.Volumes = nil
	for o := range n {
		v := three[o%len(three)]
		v.Ordinal = o
		v.TargetVolume = fmt.Sprintf("vol-%017x", 0xc000+o)
		rec.Volumes = append(rec.Volumes, v)
	}
	return root, m, rec
}

// TestRootsBuiltInParallelAllOrNothing: the roots of a split overlay are
// built at the same time (up to GOMAXPROCS), and one root that does not
// build leaves nothing written: not the other roots, not the previous
// overlay's files.
func TestRootsBuiltInParallelAllOrNothing(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: the builds cannot overlap")
	}
	root, m, rec := grown(t, 3*ShardMembers)
	out := filepath.Join(root, "overlays", "x")
	if _, err := Render(m, rec, Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(out, StorageRoot(1), PVFile))
	if err != nil {
		t.Fatal(err)
	}
	var running, most atomic.Int32
	var mu sync.Mutex
	var built []string
	old := buildOverlay
	t.Cleanup(func() { buildOverlay = old })
	buildOverlay = func(dir string) ([]byte, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		built = append(built, filepath.Base(dir))
		mu.Unlock()
		if filepath.Base(dir) == StorageRoot(2) {
			return nil, errors.New("root three does not build")
		}
		return old(dir)
	}
	rec.Volumes[0].TargetVolume = "vol-0ffffffffffffffff"
	_, err = RenderContext(context.Background(), m, rec, Options{OutDir: out})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "storage root "+StorageRoot(2)) {
		t.Fatalf("err = %v, want ErrInvalid naming %s", err, StorageRoot(2))
	}
	if most.Load() < 2 {
		t.Errorf("at most %d builds ran at once (built %v), want the roots built in parallel", most.Load(), built)
	}
	after, err := os.ReadFile(filepath.Join(out, StorageRoot(1), PVFile))
	if err != nil || string(after) != string(before) {
		t.Errorf("a failed build changed the previous overlay's %s (%v)", StorageRoot(1), err)
	}
	if pvs, _ := os.ReadFile(filepath.Join(out, StorageRoot(0), PVFile)); strings.Contains(string(pvs), "vol-0ffffffffffffffff") {
		t.Error("a root that built reached the overlay though another did not")
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "overlays")); len(entries) != 1 {
		t.Errorf("overlays/ holds %d entries, want only x", len(entries))
	}
}

// TestShardSize: a root holds ShardMembers members of up to two claim
// templates, and fewer of more, so that no root exceeds ShardObjects PVs
// and PVCs (but always one member, whatever its templates).
func TestShardSize(t *testing.T) {
	for templates, want := range map[int]int{1: ShardMembers, 2: ShardMembers, 3: ShardObjects / 6, 4: ShardObjects / 8, 8: ShardObjects / 16, 100: 1, 1000: 1} {
		got := shardSize(templates)
		if got != want || (got > 1 && 2*templates*got > ShardObjects) {
			t.Errorf("shardSize(%d) = %d, want %d", templates, got, want)
		}
	}
}
