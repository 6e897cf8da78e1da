package ebs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

type machineKey struct{}

// machines pauses the clients of two graft runs ("machines" A and B, told
// apart by a context value) on one simulated EC2: a machine with a pause
// point blocks at its k-th mutating call, and every later call of it,
// until released.
type machines struct {
	mu      sync.Mutex
	count   map[string]int
	pauseAt map[string]int
	paused  map[string]bool
	reached map[string]chan struct{}
	release map[string]chan struct{}
}

func newMachines(pauseAt map[string]int) *machines {
	m := &machines{count: map[string]int{}, pauseAt: pauseAt, paused: map[string]bool{},
		reached: map[string]chan struct{}{}, release: map[string]chan struct{}{}}
	for _, name := range []string{"A", "B"} {
		m.reached[name] = make(chan struct{})
		m.release[name] = make(chan struct{})
	}
	return m
}

func (m *machines) hook(ctx context.Context, op string, mutating bool) {
	name, _ := ctx.Value(machineKey{}).(string)
	if name == "" {
		return
	}
	m.mu.Lock()
	if mutating {
		m.count[name]++
		if m.count[name] == m.pauseAt[name] {
			m.paused[name] = true
			close(m.reached[name])
		}
	}
	paused, rel := m.paused[name], m.release[name]
	m.mu.Unlock()
	if paused {
		select {
		case <-rel:
		case <-ctx.Done():
		}
	}
}

func (m *machines) resume(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paused[name] {
		m.paused[name] = false
		close(m.release[name])
	}
}

// interleave runs A until it reaches its pause (or ends), then B until it
// reaches its own, then lets A and B finish, in that order, and returns
// their errors.
func (m *machines) interleave(runA, runB func() error) (errA, errB error) {
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- runA() }()
	aDone := false
	select {
	case <-m.reached["A"]:
	case errA = <-doneA:
		aDone = true
	}
	go func() { doneB <- runB() }()
	bDone := false
	select {
	case <-m.reached["B"]:
	case errB = <-doneB:
		bDone = true
	}
	m.resume("A")
	if !aDone {
		errA = <-doneA
	}
	m.resume("B")
	if !bDone {
		errB = <-doneB
	}
	return errA, errB
}

// cloneOn runs discover and both phases as one machine, with its own
// record, as `graft clone --phase precopy && graft clone --phase final`.
func (e *simEnv) cloneOn(ctx context.Context, machine, lock string) error {
	ctx = context.WithValue(ctx, machineKey{}, machine)
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		eng := e.engine()
		inv, err := eng.Discover(ctx)
		if err != nil {
			return err
		}
		rec := record.New(e.m)
		if r, err := record.Load(lock); err == nil {
			rec = r
		}
		if _, err = eng.Clone(ctx, inv, ebs.CloneOptions{Phase: phase, Record: rec, RecordPath: lock, RunHook: e.runHook}); err != nil {
			return fmt.Errorf("%s %s: %w", machine, phase, err)
		}
	}
	return nil
}

// TestSimTwoMachinesConverge runs graft clone (precopy, then final) twice
// at once on a fresh migration, as two machines would: run A is paused at its k-th
// mutating call while run B runs to completion or to its j-th mutating
// call, then A finishes, then B. For every k and a set of j, exactly one
// snapshot per member, device and phase, one copy, and one volume per
// member and device remain, both records name the same ones, and no source
// volume or instance was the target of a mutating call (newSim checks the
// audit log). It runs once more with EC2's eventual consistency
// (ListLag): a resource just created is listed only seconds later.
func TestSimTwoMachinesConverge(t *testing.T) {
	for _, lag := range []time.Duration{0, 3 * time.Second} {
		c := simCase{Nodes: 2, Devices: 2, KMSKey: simKey, Snapshot: 2 * time.Minute, ListLag: lag}
		ref := newSim(t, c)
		if err := ref.cloneOn(ctxT(t, 30*time.Second), "A", ref.lock); err != nil {
			t.Fatal(err)
		}
		ref.assertEndState(true)
		steps := 0
		for _, call := range ref.sim.Calls() {
			if call.Mutating {
				steps++
			}
		}
		if steps < 8 {
			t.Fatalf("only %d mutating calls in one run", steps)
		}
		js := []int{0, 1, steps / 2, steps - 1}
		if lag > 0 {
			js = []int{0, steps / 2}
		}
		for k := 1; k <= steps; k++ {
			for _, j := range js {
				t.Run(fmt.Sprintf("lag%s/A%02d_B%02d", lag, k, j), func(t *testing.T) {
					t.Parallel()
					e := newSim(t, c)
					ctx := ctxT(t, 60*time.Second)
					m := newMachines(map[string]int{"A": k, "B": j})
					e.sim.OnCall(m.hook)
					lockA, lockB := e.lock, filepath.Join(t.TempDir(), "graft.lock")
					errA, errB := m.interleave(func() error { return e.cloneOn(ctx, "A", lockA) }, func() error { return e.cloneOn(ctx, "B", lockB) })
					if errA != nil || errB != nil {
						t.Fatalf("run A: %v\nrun B: %v", errA, errB)
					}
					e.assertEndState(true) // A's record, and what exists
					ra, err := record.Load(lockA)
					if err != nil {
						t.Fatal(err)
					}
					rb, err := record.Load(lockB)
					if err != nil {
						t.Fatal(err)
					}
					if len(ra.Volumes) != len(rb.Volumes) {
						t.Fatalf("records: A has %d volumes, B %d", len(ra.Volumes), len(rb.Volumes))
					}
					for i := range ra.Volumes {
						a, b := ra.Volumes[i], rb.Volumes[i]
						if a.ClaimName() != b.ClaimName() || a.TargetVolume != b.TargetVolume || a.CopiedSnapshot != b.CopiedSnapshot || fmt.Sprint(a.Snapshots) != fmt.Sprint(b.Snapshots) {
							t.Errorf("records disagree:\nA %s %s %s %v\nB %s %s %s %v", a.ClaimName(), a.TargetVolume, a.CopiedSnapshot, a.Snapshots, b.ClaimName(), b.TargetVolume, b.CopiedSnapshot, b.Snapshots)
						}
					}
				})
			}
		}
	}
}
