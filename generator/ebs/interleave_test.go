package ebs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/record"
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
	waitA := m.start("A", runA)
	waitB := m.start("B", runB)
	m.resume("A")
	errA = waitA()
	m.resume("B")
	return errA, waitB()
}

// start runs the machine name until it reaches its pause or ends, and
// returns what waits for its end.
func (m *machines) start(name string, run func() error) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case <-m.reached[name]:
		return func() error { return <-done }
	case err := <-done:
		return func() error { return err }
	}
}

// cloneOn runs discover and both phases as one machine, with its own
// record, as `graft clone --phase precopy && graft clone --phase final`.
func (e *simEnv) cloneOn(ctx context.Context, machine, lock string, opts ...func(*ebs.Options)) error {
	if err := e.clonePhasesAt(context.WithValue(ctx, machineKey{}, machine), lock, opts...); err != nil {
		return fmt.Errorf("%s %w", machine, err)
	}
	return nil
}

// twoMachines runs cloneOn as machines A and B at once on the accounts
// sims, A with e's record and B with its own: A pauses at its k-th
// mutating call (in any of the accounts) while B runs to its j-th (0: to
// its end), then A finishes, then B. Both must succeed; it returns A's
// record and B's.
func (e *simEnv) twoMachines(t *testing.T, k, j int, sims []*ec2sim.Sim, opts ...func(*ebs.Options)) (ra, rb *record.Record) {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	m := newMachines(map[string]int{"A": k, "B": j})
	for _, s := range sims {
		s.OnCall(m.hook)
	}
	lockB := filepath.Join(t.TempDir(), "graft.lock")
	errA, errB := m.interleave(func() error { return e.cloneOn(ctx, "A", e.lock, opts...) }, func() error { return e.cloneOn(ctx, "B", lockB, opts...) })
	if errA != nil || errB != nil {
		t.Fatalf("run A: %v\nrun B: %v", errA, errB)
	}
	return loadRecord(t, e.lock), loadRecord(t, lockB)
}

// assertRecordsAgree checks that two runs' records name the same claims,
// volumes, copies and snapshots.
func assertRecordsAgree(t *testing.T, ra, rb *record.Record) {
	t.Helper()
	if len(ra.Volumes) != len(rb.Volumes) {
		t.Fatalf("records: A has %d volumes, B %d", len(ra.Volumes), len(rb.Volumes))
	}
	for i := range ra.Volumes {
		a, b := ra.Volumes[i], rb.Volumes[i]
		if a.ClaimName() != b.ClaimName() || a.TargetVolume != b.TargetVolume || a.CopiedSnapshot != b.CopiedSnapshot || fmt.Sprint(a.Snapshots) != fmt.Sprint(b.Snapshots) {
			t.Errorf("records disagree:\nA %s %s %s %v\nB %s %s %s %v", a.ClaimName(), a.TargetVolume, a.CopiedSnapshot, a.Snapshots, b.ClaimName(), b.TargetVolume, b.CopiedSnapshot, b.Snapshots)
		}
	}
}

// mutatingCalls counts the mutating calls (DryRun included) in the
// accounts' logs.
func mutatingCalls(sims ...*ec2sim.Sim) int {
	n := 0
	for _, s := range sims {
		for _, call := range s.Calls() {
			if call.Mutating {
				n++
			}
		}
	}
	return n
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
		steps := mutatingCalls(ref.sim)
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
					ra, rb := e.twoMachines(t, k, j, []*ec2sim.Sim{e.sim})
					e.assertEndState(true) // A's record, and what exists
					assertRecordsAgree(t, ra, rb)
				})
			}
		}
	}
}
