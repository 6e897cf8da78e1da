package ebs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

const simKey = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// simCase is one simulated legacy cluster and the spec that migrates it.
type simCase struct {
	Nodes     int
	Devices   int  // 1 or 2
	FSR       bool // fast snapshot restore instead of an initialization rate
	KMSKey    string
	Snapshot  time.Duration // fixed snapshot duration (0: the simulator's model)
	Limits    *ebs.Limits
	NoHook    bool
	ExtraSpec func(string) string
	// IdleWindow of the simulator's auto-advancing clock (default 1ms):
	// the real time nothing may happen before virtual time jumps. Longer
	// is slower but robust on a loaded machine, where a runnable goroutine
	// can wait for a core longer than a short window.
	IdleWindow time.Duration
	// ListLag: see ec2sim.Options.ListLag.
	ListLag time.Duration
	// Unencrypted source volumes.
	Unencrypted bool
}

type simEnv struct {
	t      testing.TB
	sim    *ec2sim.Sim
	cl     ec2sim.Cluster
	m      *spec.Migration
	dir    string
	lock   string
	c      simCase
	hookMu sync.Mutex
	hook   []string // hook runs seen; members run their hooks concurrently
}

// newSim seeds the cluster and registers the check every simulator test
// ends with: no mutating call on a source volume or instance.
func newSim(t testing.TB, c simCase) *simEnv { t.Helper(); return newSimWith(t, c, nil) }

// newSimWith is newSim with prep run on the simulator before it seeds the
// cluster: it may add keys and accounts, and returns the KMS key of the
// source volumes ("": the aws/ebs key).
func newSimWith(t testing.TB, c simCase, prep func(*ec2sim.Sim) string) *simEnv {
	t.Helper()
	o := ec2sim.Options{IdleWindow: c.IdleWindow, ListLag: c.ListLag}
	if o.IdleWindow == 0 {
		o.IdleWindow = time.Millisecond
	}
	if c.Snapshot > 0 {
		d := c.Snapshot
		o.SnapshotDuration = func(ec2sim.SnapInfo) time.Duration { return d }
	}
	sim := ec2sim.New(o)
	key := ""
	if prep != nil {
		key = prep(sim)
	}
	devs := []ec2sim.DeviceSpec{{Device: "/dev/xvdf", VolumeSpec: ec2sim.VolumeSpec{SizeGiB: 200, Type: types.VolumeTypeGp3, Encrypted: !c.Unencrypted, KMSKeyID: key}}}
	if c.Devices == 2 {
		devs = append(devs, ec2sim.DeviceSpec{Device: "/dev/xvdg", VolumeSpec: ec2sim.VolumeSpec{SizeGiB: 50, Type: types.VolumeTypeGp3, Encrypted: !c.Unencrypted, KMSKeyID: key}})
	}
	cl, err := sim.SeedCluster(ec2sim.ClusterSpec{Name: "cassandra", Nodes: c.Nodes, Devices: devs, Tags: map[string]string{"app": "cassandra"}})
	if err != nil {
		t.Fatal(err)
	}
	// Another application in the same account, never selected.
	if _, err := sim.SeedCluster(ec2sim.ClusterSpec{Name: "kafka", Nodes: 2, Tags: map[string]string{"app": "kafka"}}); err != nil {
		t.Fatal(err)
	}
	e := &simEnv{t: t, sim: sim, cl: cl, c: c, dir: t.TempDir()}
	e.lock = filepath.Join(e.dir, "graft.lock")
	e.m = e.spec(c)
	t.Cleanup(func() { assertSourceUntouched(t, sim, cl) })
	return e
}

// assertSourceUntouched fails the test if any mutating call (DryRun
// included) named a source volume or instance as its target.
func assertSourceUntouched(t testing.TB, sim *ec2sim.Sim, cl ec2sim.Cluster) {
	t.Helper()
	if calls := sim.MutatingCallsOn(cl.SourceIDs()...); len(calls) > 0 {
		for _, c := range calls {
			t.Errorf("mutating call on a source resource: %s writes %v (%s)", c.Op, c.Writes, c.Code)
		}
	}
}

func (e *simEnv) spec(c simCase) *spec.Migration {
	e.t.Helper()
	devices := "      - {name: /dev/xvdf, claimTemplate: data, fsType: xfs}\n"
	if c.Devices == 2 {
		devices += "      - {name: /dev/xvdg, claimTemplate: commitlog, fsType: xfs}\n"
	}
	init := "      initialization: {rateMiBps: 200}\n"
	if c.FSR {
		init = "      initialization: {fastSnapshotRestore: true}\n"
	}
	kms := ""
	if c.KMSKey != "" {
		kms = "      kmsKeyId: " + c.KMSKey + "\n"
	}
	hooks := "  hooks:\n    beforeFinal: [nodetool, -h, '{privateIp}', drain]\n"
	if c.NoHook {
		hooks = ""
	}
	y := fmt.Sprintf(`apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata: {name: sim}
spec:
  source:
    region: us-east-1
    filters: [{name: "tag:app", values: [cassandra]}]
    devices:
%s  mapping:
    tagRegex: {tag: Name, pattern: '^cassandra-(?P<ordinal>[0-9]+)$'}
  target:
    namespace: db
    statefulSets: [{name: cassandra, replicas: %d}]
    volume:
      type: gp3
      iops: 4000
      throughput: 250
%s%s      tags: {team: data}
  gitops: {base: ../../base}
%s`, devices, c.Nodes, kms, init, hooks)
	if c.ExtraSpec != nil {
		y = c.ExtraSpec(y)
	}
	m, err := spec.Parse([]byte(y))
	if err != nil {
		e.t.Fatalf("%v\n%s", err, y)
	}
	return m
}

func (e *simEnv) engine(opts ...func(*ebs.Options)) *ebs.Engine {
	o := ebs.Options{Source: e.sim, Clock: e.sim.Clock(), Log: testLogger(e.t), Limits: e.c.Limits, Progress: nopProgress{}}
	for _, f := range opts {
		f(&o)
	}
	return ebs.New(e.m, o)
}

type nopProgress struct{}

func (nopProgress) Update(string, string, int) {}
func (nopProgress) Done(string, error)         {}
func (nopProgress) Close()                     {}

func (e *simEnv) runHook(_ context.Context, argv []string) ([]byte, error) {
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	e.hook = append(e.hook, strings.Join(argv, " "))
	return []byte("drained\n"), nil
}

// clone runs discover and one phase with a fresh engine, as a new process
// would, loading the record from disk.
func (e *simEnv) clone(ctx context.Context, phase string, opts ...func(*ebs.Options)) (*ebs.CloneResult, error) {
	return e.cloneRecordedAt(ctx, phase, e.lock, opts...)
}

// cloneRecordedAt is clone with the record at lock.
func (e *simEnv) cloneRecordedAt(ctx context.Context, phase, lock string, opts ...func(*ebs.Options)) (*ebs.CloneResult, error) {
	return cloneRecorded(ctx, e.engine(opts...), e.m, phase, lock, e.runHook)
}

// cloneRecorded runs discover and one phase of eng with the record at lock
// (a new one of m while there is none), as a new graft process would.
func cloneRecorded(ctx context.Context, eng *ebs.Engine, m *spec.Migration, phase, lock string, hook func(context.Context, []string) ([]byte, error)) (*ebs.CloneResult, error) {
	inv, err := eng.Discover(ctx)
	if err != nil {
		return nil, err
	}
	rec := record.New(m)
	if r, err := record.Load(lock); err == nil {
		rec = r
	}
	return eng.Clone(ctx, inv, ebs.CloneOptions{Phase: phase, Record: rec, RecordPath: lock, RunHook: hook})
}

// cloneAll runs both phases, as `graft clone --phase precopy && graft
// clone --phase final`.
func (e *simEnv) cloneAll(ctx context.Context, opts ...func(*ebs.Options)) error {
	return e.clonePhasesAt(ctx, e.lock, opts...)
}

func (e *simEnv) clonePhasesAt(ctx context.Context, lock string, opts ...func(*ebs.Options)) error {
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		if _, err := e.cloneRecordedAt(ctx, phase, lock, opts...); err != nil {
			return fmt.Errorf("%s: %w", phase, err)
		}
	}
	return nil
}

// loadRecord loads the record at path.
func loadRecord(t testing.TB, path string) *record.Record {
	t.Helper()
	rec, err := record.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// cloneAndRecord runs both phases and returns the record they wrote,
// which must hold volumes entries.
func (e *simEnv) cloneAndRecord(t *testing.T, ctx context.Context, volumes int, opts ...func(*ebs.Options)) *record.Record {
	t.Helper()
	if err := e.cloneAll(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	rec := loadRecord(t, e.lock)
	if len(rec.Volumes) != volumes {
		t.Fatalf("record has %d volumes, want %d", len(rec.Volumes), volumes)
	}
	return rec
}

// assertEndState checks the end state of a finished migration: exactly one
// snapshot per source volume and phase (and one copy when copying), one
// volume per member and template, each in the record, FSR off, nothing else.
func (e *simEnv) assertEndState(copies bool) {
	t := e.t
	t.Helper()
	rec := e.finishedRecord()
	data := len(e.cl.DataVolumeIDs())
	snapIDs := assertOneSnapshotEach(t, e.sim, map[string]bool{ownership.RoleSnapshot: true, ownership.RoleCopy: copies}, data)
	volIDs := assertOneVolumeEach(t, e.sim, rec, data)
	out, err := e.sim.DescribeFastSnapshotRestores(context.Background(), nil)
	if err == nil {
		for _, f := range out.FastSnapshotRestores {
			if f.State != types.FastSnapshotRestoreStateCodeDisabled && f.State != types.FastSnapshotRestoreStateCodeDisabling {
				t.Errorf("fast snapshot restore left %s on %s in %s", f.State, aws.ToString(f.SnapshotId), aws.ToString(f.AvailabilityZone))
			}
		}
	}
	if leaked := e.sim.Leaked(append(volIDs, snapIDs...)...); len(leaked) > 0 {
		t.Errorf("leaked in account %s: %v", e.sim.AccountID(), leaked)
	}
}

// finishedRecord loads the record, which must hold one volume per source
// data volume.
func (e *simEnv) finishedRecord() *record.Record {
	t := e.t
	t.Helper()
	rec := loadRecord(t, e.lock)
	if data := e.cl.DataVolumeIDs(); len(rec.Volumes) != len(data) {
		t.Errorf("record has %d volumes, want %d", len(rec.Volumes), len(data))
	}
	return rec
}

// assertOneSnapshotEach checks the snapshots in sim: each is the
// migration's, completed and of a role that roles wants, and there is
// exactly one per role, phase and source volume (a copy's source is its
// graft:source-volume tag): two phases of each of volumes source volumes
// per wanted role. It returns their ids.
func assertOneSnapshotEach(t testing.TB, sim *ec2sim.Sim, roles map[string]bool, volumes int) []string {
	t.Helper()
	groups := map[string][]string{}
	var ids []string
	for _, s := range sim.Snapshots() {
		tags := tagMap(s.Tags)
		id := aws.ToString(s.SnapshotId)
		if tags[ownership.TagMigration] != "sim" {
			t.Errorf("untagged snapshot %s in account %s", id, sim.AccountID())
			continue
		}
		ids = append(ids, id)
		role := tags[ownership.TagRole]
		if !roles[role] {
			t.Errorf("snapshot %s of role %s in account %s", id, role, sim.AccountID())
		}
		src := aws.ToString(s.VolumeId)
		if role != ownership.RoleSnapshot {
			src = tags[ownership.TagSourceVolume]
		}
		if s.State != types.SnapshotStateCompleted {
			t.Errorf("snapshot %s is %s", id, s.State)
		}
		k := role + " " + tags[ownership.TagPhase] + " " + src
		groups[k] = append(groups[k], id)
	}
	want := 0
	for _, wanted := range roles {
		if wanted {
			want += 2 * volumes
		}
	}
	if len(groups) != want {
		t.Errorf("account %s: %d distinct (role, phase, source) snapshot keys, want %d: %v", sim.AccountID(), len(groups), want, groups)
	}
	for k, g := range groups {
		if len(g) != 1 {
			t.Errorf("account %s: %d snapshots for %s: %v", sim.AccountID(), len(g), k, g)
		}
	}
	return ids
}

// assertOneVolumeEach checks the migration's volumes in sim (the ones
// tagged with a migration; the rest are source volumes): exactly one per
// member and claim template, volumes of those keys, each in rec. It
// returns the volumes rec references.
func assertOneVolumeEach(t testing.TB, sim *ec2sim.Sim, rec *record.Record, volumes int) []string {
	t.Helper()
	referenced := map[string]bool{}
	var refIDs []string
	for _, v := range rec.Volumes {
		referenced[v.TargetVolume] = true
		refIDs = append(refIDs, v.TargetVolume)
	}
	vols := map[string][]string{}
	for _, v := range sim.Volumes() {
		tags := tagMap(v.Tags)
		if tags[ownership.TagMigration] == "" {
			continue // a source volume
		}
		k := tags[ownership.TagMember] + " " + tags[ownership.TagClaimTemplate]
		vols[k] = append(vols[k], aws.ToString(v.VolumeId))
		if !referenced[aws.ToString(v.VolumeId)] {
			t.Errorf("leaked volume %s (%s) in account %s: not in the record", aws.ToString(v.VolumeId), k, sim.AccountID())
		}
	}
	if len(vols) != volumes {
		t.Errorf("%d member/template volume keys in account %s, want %d", len(vols), sim.AccountID(), volumes)
	}
	for k, ids := range vols {
		if len(ids) != 1 {
			t.Errorf("%d volumes for %s: %v", len(ids), k, ids)
		}
	}
	return refIDs
}

// killAndResume crashes the process after its k-th state-changing call
// (in any account), checks that run then fails, revives the process and
// runs it again, which must finish.
func (e *simEnv) killAndResume(t *testing.T, k int, run func() error) {
	t.Helper()
	e.sim.CrashAfter(k)
	err := run()
	if !e.sim.Crashed() {
		t.Fatalf("crash point %d did not fire (err %v)", k, err)
	}
	if err == nil {
		t.Fatal("the run reported success after a crash")
	}
	e.sim.Revive()
	if err := run(); err != nil {
		t.Fatalf("re-run after crash: %v", err)
	}
}

// toUSWest2 moves spec.target to us-west-2, zone by zone.
func toUSWest2(y string) string {
	return strings.Replace(y, "  target:\n", "  target:\n    region: us-west-2\n    zones: {us-east-1a: us-west-2a, us-east-1b: us-west-2b, us-east-1c: us-west-2c}\n", 1)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSimCloneBothPhases(t *testing.T) {
	e := newSim(t, simCase{Nodes: 6, Devices: 2, KMSKey: simKey, FSR: true})
	ctx := ctxT(t, 30*time.Second)
	if err := e.cloneAll(ctx); err != nil {
		t.Fatal(err)
	}
	e.assertEndState(true)
	if len(e.hook) != 6 || !strings.HasPrefix(e.hook[0], "nodetool -h 10.0.") {
		t.Errorf("hook runs: %v", e.hook)
	}
	// CreateSnapshots per instance (two devices), never CreateSnapshot.
	if n := e.sim.Count(ec2sim.OpCreateSnapshots); n != 2*6+2 { // + the DryRun proof of each phase
		t.Errorf("CreateSnapshots calls: %d", n)
	}
	for _, v := range e.sim.Volumes() {
		tags := tagMap(v.Tags)
		if tags[ownership.TagRole] != ownership.RoleVolume {
			continue
		}
		for _, k := range []string{ownership.TagMigration, ownership.TagMember, ownership.TagRole, ownership.TagSourceVolume, ownership.TagSourceInstance, ownership.TagClaimTemplate, ownership.TagPhase, "team"} {
			if tags[k] == "" {
				t.Errorf("volume %s lacks tag %s: %v", aws.ToString(v.VolumeId), k, tags)
			}
		}
		if aws.ToString(v.KmsKeyId) != simKey || v.VolumeType != types.VolumeTypeGp3 || aws.ToInt32(v.Iops) != 4000 {
			t.Errorf("volume %s: %s %d %s", aws.ToString(v.VolumeId), v.VolumeType, aws.ToInt32(v.Iops), aws.ToString(v.KmsKeyId))
		}
	}
	// A third run changes nothing.
	before := e.sim.Stats().Mutations
	res, err := e.clone(ctx, spec.PhaseFinal)
	if err != nil || len(res.Created) != 0 || e.sim.Stats().Mutations != before {
		t.Errorf("re-run: %v, created %v, mutations %d -> %d", err, res.Created, before, e.sim.Stats().Mutations)
	}
}

// TestSimKillAtEveryStep crashes the run right after each state-changing
// call in turn, re-runs it, and checks that the end state is exactly what
// an uninterrupted run leaves.
func TestSimKillAtEveryStep(t *testing.T) {
	// Short snapshots keep each of the ~36 runs to a few poll rounds.
	c := simCase{Nodes: 3, Devices: 2, KMSKey: simKey, FSR: true, Snapshot: 2 * time.Minute}
	ref := newSim(t, c)
	if err := ref.cloneAll(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	ref.assertEndState(true)
	steps := ref.sim.Stats().Mutations
	var ops []string
	for _, call := range ref.sim.Calls() {
		if call.Mutated {
			ops = append(ops, call.Op)
		}
	}
	t.Logf("%d state-changing steps: %v", steps, ops)
	if steps < 20 {
		t.Fatalf("only %d steps", steps)
	}
	for k := 1; k <= steps; k++ {
		t.Run(fmt.Sprintf("after_%02d_%s", k, ops[k-1]), func(t *testing.T) {
			t.Parallel()
			e := newSim(t, c)
			ctx := ctxT(t, 30*time.Second)
			e.killAndResume(t, k, func() error { return e.cloneAll(ctx) })
			e.assertEndState(true)
		})
	}
}

func TestSimThrottled30Percent(t *testing.T) {
	e := newSim(t, simCase{Nodes: 6, Devices: 2, KMSKey: simKey})
	e.sim.Throttle(0.3)
	ctx := ctxT(t, 30*time.Second)
	var stats *ebs.Stats
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		eng := e.engine()
		if _, err := cloneRecorded(ctx, eng, e.m, phase, e.lock, e.runHook); err != nil {
			t.Fatalf("%s with 30%% throttling: %v", phase, err)
		}
		stats = eng.Stats()
	}
	e.assertEndState(true)
	st := e.sim.Stats()
	if st.InjectedThrottles == 0 {
		t.Fatal("nothing was throttled")
	}
	t.Logf("throttled %d calls; engine absorbed %s", st.InjectedThrottles, ebs.FormatCounts(stats.Throttles()))
}

func TestSimIdempotentParameterMismatch(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true})
	e.sim.Inject(ec2sim.Fault{Op: ec2sim.OpCreateVolume, Match: func(c ec2sim.Call) bool { return !c.DryRun }, Nth: 1, Code: "IdempotentParameterMismatch", Message: "The client token was already used with different parameters."})
	if err := e.cloneAll(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	e.assertEndState(false)
	tokens := map[string]bool{}
	for _, c := range e.sim.Calls() {
		if c.Op == ec2sim.OpCreateVolume && !c.DryRun {
			tokens[c.Code] = true
		}
	}
	if !tokens["IdempotentParameterMismatch"] {
		t.Error("the mismatch was not injected")
	}
}

// TestSimIdempotentParameterMismatchReal makes EC2 itself answer
// IdempotentParameterMismatch: an interrupted run created the volume with
// the token, the volume was deleted, and the spec changed.
func TestSimIdempotentParameterMismatchReal(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	rec := e.cloneAndRecord(t, ctx, 1)
	if _, err := e.sim.DeleteVolume(ctx, deleteVolumeInput(rec.Volumes[0].TargetVolume)); err != nil {
		t.Fatal(err)
	}
	// Same token (same member and template), other parameters.
	e.m.Spec.Target.Volume.IOPS = 5000
	if _, err := e.clone(ctx, spec.PhaseFinal); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, c := range e.sim.Calls() {
		if c.Op == ec2sim.OpCreateVolume && !c.DryRun {
			codes = append(codes, c.Code)
		}
	}
	if len(codes) != 3 || codes[1] != "IdempotentParameterMismatch" || codes[2] != "" {
		t.Errorf("CreateVolume results: %q, want success, mismatch, success with a new token", codes)
	}
	rec = loadRecord(t, e.lock)
	if rec.Volumes[0].IOPS != 5000 {
		t.Errorf("record IOPS %d", rec.Volumes[0].IOPS)
	}
}

func TestSimSnapshotErrorStopsOnlyThatMember(t *testing.T) {
	e := newSim(t, simCase{Nodes: 3, Devices: 1, NoHook: true})
	bad := e.cl.Nodes[1].DataVolumes["/dev/xvdf"]
	e.sim.FailSnapshotsOf(bad, "the snapshot could not be completed: internal error")
	ctx := ctxT(t, 30*time.Second)
	_, err := e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"1 of 3 members stopped", "cassandra/1", bad, "state error", "internal error", "the next run"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	rec, err := record.Load(e.lock)
	if err != nil || len(rec.Volumes) != 2 {
		t.Fatalf("the other members are not recorded: %v %v", err, rec)
	}
}

func TestSimFailedSnapshotIsReplacedOnRerun(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	if _, err := e.clone(ctx, spec.PhasePrecopy); err != nil {
		t.Fatal(err)
	}
	failed := aws.ToString(e.sim.Snapshots()[0].SnapshotId)
	if err := e.sim.SetSnapshotState(failed, types.SnapshotStateError, "boom"); err != nil {
		t.Fatal(err)
	}
	if err := e.cloneAll(ctx); err != nil {
		t.Fatal(err)
	}
	e.assertEndState(false)
	for _, s := range e.sim.Snapshots() {
		if aws.ToString(s.SnapshotId) == failed {
			t.Errorf("failed snapshot %s was not deleted", failed)
		}
	}
}

func TestSimSnapshotTimeout(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true})
	stuck := e.cl.Nodes[0].DataVolumes["/dev/xvdf"]
	e.sim.StallSnapshotsOf(stuck)
	ctx := ctxT(t, 30*time.Second)
	_, err := e.clone(ctx, spec.PhasePrecopy, func(o *ebs.Options) { o.SnapshotTimeout = 3 * time.Hour })
	if err == nil {
		t.Fatal("no timeout")
	}
	for _, want := range []string{"timed out", "still pending at 42%", "after 3h0m0s", stuck, "the next run waits again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if el := e.sim.Elapsed(); el < 3*time.Hour || el > 4*time.Hour {
		t.Errorf("virtual time %s", el)
	}
}

func TestSimCancelIsResumable(t *testing.T) {
	e := newSim(t, simCase{Nodes: 4, Devices: 2, NoHook: true, Snapshot: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel (Ctrl-C) as soon as the first volume is being created.
	e.sim.CrashWhen(func(c ec2sim.Call) bool {
		if c.Op == ec2sim.OpCreateVolume && !c.DryRun {
			cancel()
		}
		return false
	})
	_, err := e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the next run resumes from it") {
		t.Fatalf("err = %v", err)
	}
	e.sim.Revive()
	if _, err := e.clone(ctxT(t, 30*time.Second), spec.PhaseFinal); err != nil {
		t.Fatal(err)
	}
	// Only final snapshots: one per volume and phase, no precopy.
	rec := loadRecord(t, e.lock)
	if len(rec.Volumes) != 8 {
		t.Fatalf("record: %d volumes", len(rec.Volumes))
	}
	// One final snapshot per source volume (CreateSnapshots tags a
	// member's snapshots alike; each one's VolumeId tells them apart).
	per := map[string]int{}
	for _, s := range e.sim.Snapshots() {
		per[aws.ToString(s.VolumeId)]++
	}
	for v, n := range per {
		if n != 1 {
			t.Errorf("%d snapshots of %s", n, v)
		}
	}
	if len(per) != 8 {
		t.Errorf("snapshots of %d volumes", len(per))
	}
}

func TestSimDryRunCreatesNothing(t *testing.T) {
	e := newSim(t, simCase{Nodes: 3, Devices: 2, KMSKey: simKey})
	ctx := ctxT(t, 30*time.Second)
	eng := e.engine()
	inv := discover(t, ctx, eng)
	proved, err := eng.DryRun(ctx, inv, spec.PhaseFinal)
	if err != nil {
		t.Fatal(err)
	}
	if len(proved) < 3 || len(e.sim.Created()) != 0 || e.sim.Stats().Mutations != 0 {
		t.Errorf("proved %v; created %v", proved, e.sim.Created())
	}
	e.sim.DenyKMSKey(simKey)
	_, err = eng.DryRun(ctx, inv, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrDryRun) || !strings.Contains(err.Error(), "kmsKeyId") || !strings.Contains(err.Error(), "nothing was created") {
		t.Errorf("denied key: %v", err)
	}
}

func TestSimCrossRegion(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 2, NoHook: true, ExtraSpec: toUSWest2})
	west := e.sim.NewRegion("us-west-2")
	ctx := ctxT(t, 30*time.Second)
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		if _, err := e.clone(ctx, phase, func(o *ebs.Options) { o.Target = west }); err != nil {
			t.Fatal(err)
		}
	}
	rec := loadRecord(t, e.lock)
	for _, v := range rec.Volumes {
		if !strings.HasPrefix(v.TargetZone, "us-west-2") || v.CopiedSnapshot == "" {
			t.Errorf("volume %+v", v)
		}
	}
	if n := west.Count(ec2sim.OpCopySnapshot); n < 8 {
		t.Errorf("%d copies", n)
	}
	assertSourceUntouched(t, west, e.cl)
}

func TestSimCleanup(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	rec := e.cloneAndRecord(t, ctx, 2)
	// A duplicate of a recorded volume (a run that lost to it and could
	// not delete its own), a graft volume of a member the record holds
	// none of (from a run whose record was lost: the cluster may use it),
	// and one untagged volume.
	extra := createVolume(t, e.sim, volumeTagsOf(t, e.sim, rec.Volumes[0].TargetVolume))
	unaccounted := createVolume(t, e.sim, map[string]string{ownership.TagMigration: "sim", ownership.TagRole: ownership.RoleVolume, ownership.TagMember: "cassandra/9", ownership.TagClaimTemplate: "data"})
	untagged := createVolume(t, e.sim, map[string]string{"team": "data"})
	otherMigration := createVolume(t, e.sim, map[string]string{ownership.TagMigration: "other", ownership.TagRole: ownership.RoleVolume})
	if err := e.sim.Clock().Sleep(ctx, time.Minute); err != nil { // let them become available
		t.Fatal(err)
	}
	eng := e.engine()
	cp, err := eng.PlanCleanup(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	var del []string
	for _, it := range cp.Delete {
		del = append(del, it.Kind+" "+it.ID)
	}
	sort.Strings(del)
	if len(del) != 5 || !contains(del, "volume "+extra) {
		t.Errorf("delete %v", del)
	}
	if _, err := eng.Cleanup(ctx, cp); err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, v := range e.sim.Volumes() {
		left[aws.ToString(v.VolumeId)] = true
	}
	for _, v := range rec.Volumes {
		if !left[v.TargetVolume] {
			t.Errorf("recorded volume %s deleted", v.TargetVolume)
		}
	}
	if left[extra] || !left[unaccounted] || !left[untagged] || !left[otherMigration] {
		t.Errorf("duplicate gone %v, unaccounted kept %v, untagged kept %v, other migration kept %v", !left[extra], left[unaccounted], left[untagged], left[otherMigration])
	}
	if r := keepReason(cp, unaccounted); !strings.Contains(r, "graft.lock records no volume of its member cassandra/9 and claim template data: a clone whose graft.lock this is not may have made it") {
		t.Errorf("the unaccounted volume is kept with %q", r)
	}
	if len(e.sim.Snapshots()) != 0 {
		t.Errorf("%d snapshots left", len(e.sim.Snapshots()))
	}
	// Without a record no volume is deleted.
	cp, err = eng.PlanCleanup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Delete) != 0 {
		t.Errorf("without a record: delete %v", cp.Delete)
	}
}

// TestSimCleanupKeepsWhatTheRecordCannotAccountFor: with a graft.lock
// that is not the one the volumes were recorded in (an older checkout's),
// cleanup deletes no volume it cannot prove unused: when the record names
// a volume that a clone would not adopt now (a newer duplicate), both
// the recorded one and the key's winner are kept, with the reason.
func TestSimCleanupKeepsWhatTheRecordCannotAccountFor(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	rec := e.cloneAndRecord(t, ctx, 2)
	winner := rec.Volumes[0].TargetVolume
	dup := createVolume(t, e.sim, volumeTagsOf(t, e.sim, winner))
	if err := e.sim.Clock().Sleep(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	other := *rec
	other.Volumes = slices.Clone(rec.Volumes)
	other.Volumes[0].TargetVolume = dup // a record that names the duplicate
	cp, err := e.engine().PlanCleanup(ctx, &other)
	if err != nil {
		t.Fatal(err)
	}
	if vols := volumesDeleted(cp); len(vols) > 0 {
		t.Errorf("deletes volumes %v", vols)
	}
	if r := keepReason(cp, winner); !strings.Contains(r, "graft.lock records "+dup+" for its member, but a clone now would adopt "+winner+" (the oldest)") {
		t.Errorf("the key's winner is kept with %q", r)
	}
	if r := keepReason(cp, dup); !strings.Contains(r, "the record references it") {
		t.Errorf("the recorded duplicate is kept with %q", r)
	}
	// Named (graft cleanup --volume), the winner is deleted; the recorded
	// one, named too, is still kept.
	cp, err = e.engine().PlanCleanup(ctx, &other, winner, dup)
	if err != nil {
		t.Fatal(err)
	}
	vols := volumesDeleted(cp)
	if !slices.Equal(vols, []string{winner}) || !strings.Contains(keepReason(cp, dup), "the record references it") {
		t.Errorf("with both named: deletes volumes %v, keeps %s with %q; want %s deleted only", vols, dup, keepReason(cp, dup), winner)
	}
}

// volumesDeleted are the volumes the plan deletes.
func volumesDeleted(cp *ebs.CleanupPlan) []string {
	var vols []string
	for _, it := range cp.Delete {
		if it.Kind == "volume" {
			vols = append(vols, it.ID)
		}
	}
	return vols
}

// keepReason is why the plan keeps id ("" when it does not).
func keepReason(cp *ebs.CleanupPlan, id string) string {
	for _, it := range cp.Keep {
		if it.ID == id {
			return it.Keep
		}
	}
	return ""
}

// volumeTagsOf are the graft tags of volume id, for a duplicate of it.
func volumeTagsOf(t *testing.T, sim *ec2sim.Sim, id string) map[string]string {
	t.Helper()
	for _, v := range sim.Volumes() {
		if aws.ToString(v.VolumeId) == id {
			tags := map[string]string{}
			for _, tg := range v.Tags {
				if k := aws.ToString(tg.Key); strings.HasPrefix(k, "graft:") {
					tags[k] = aws.ToString(tg.Value)
				}
			}
			return tags
		}
	}
	t.Fatalf("no volume %s", id)
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestSimDiscoverAndPlanChangeNothing: discover, plan and the cleanup plan
// make no mutating call at all (the simulator's audit log), before and
// after a clone.
func TestSimDiscoverAndPlanChangeNothing(t *testing.T) {
	e := newSim(t, simCase{Nodes: 3, Devices: 2, KMSKey: simKey, FSR: true, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	readOnly := func(stage string) {
		t.Helper()
		e.sim.ResetAudit()
		eng := e.engine()
		inv := discover(t, ctx, eng)
		if _, err := eng.Plan(ctx, inv); err != nil {
			t.Fatal(err)
		}
		rec, _ := record.Load(e.lock) // before the first clone: none (nil)
		if _, err := eng.PlanCleanup(ctx, rec); err != nil {
			t.Fatal(err)
		}
		for _, c := range e.sim.Calls() {
			if c.Mutating {
				t.Errorf("%s: discover/plan made a mutating call: %s (DryRun %v)", stage, c.Op, c.DryRun)
			}
		}
		if len(e.sim.Calls()) == 0 {
			t.Errorf("%s: no call audited", stage)
		}
	}
	readOnly("before clone")
	if _, err := e.clone(ctx, spec.PhasePrecopy); err != nil {
		t.Fatal(err)
	}
	readOnly("after precopy")
}

// TestSimCleanupRechecksBeforeDeleting: what changed between the cleanup
// plan and the deletion is kept and reported, not deleted.
func TestSimCleanupRechecksBeforeDeleting(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	rec := e.cloneAndRecord(t, ctx, 2)
	extra := volumeTagsOf(t, e.sim, rec.Volumes[0].TargetVolume) // duplicates that lost to it
	attached := createVolume(t, e.sim, extra)
	retagged := createVolume(t, e.sim, extra)
	untouched := createVolume(t, e.sim, extra)
	if err := e.sim.Clock().Sleep(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	eng := e.engine()
	cp, err := eng.PlanCleanup(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]bool{}
	var snaps []string
	for _, it := range cp.Delete {
		planned[it.ID] = true
		if it.Kind == "snapshot" {
			snaps = append(snaps, it.ID)
		}
	}
	if !planned[attached] || !planned[retagged] || !planned[untouched] || len(snaps) != 4 {
		t.Fatalf("plan deletes %v", cp.Delete)
	}
	sort.Strings(snaps)
	// Between the plan and the deletion: a volume gets attached, a volume
	// and a snapshot are re-tagged, a snapshot is pending again, one is gone.
	inst := e.sim.Instances()[0]
	if err := e.sim.Attach(attached, aws.ToString(inst.InstanceId), "/dev/xvdz"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetTags(retagged, map[string]string{ownership.TagMigration: "other", ownership.TagRole: ownership.RoleVolume}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetTags(snaps[0], map[string]string{ownership.TagMigration: "sim", ownership.TagRole: "keep-me"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetSnapshotState(snaps[1], types.SnapshotStatePending, ""); err != nil {
		t.Fatal(err)
	}
	deleteSnapshot(t, ctx, e.sim, snaps[2])
	deleted, err := eng.Cleanup(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(deleted)
	if want := []string{snaps[3], untouched}; !slices.Equal(deleted, sortedCopy(want)) {
		t.Errorf("deleted %v, want %v", deleted, sortedCopy(want))
	}
	reasons := map[string]string{}
	for _, it := range cp.Keep {
		reasons[it.ID] = it.Keep
	}
	for id, want := range map[string]string{attached: "attached", retagged: `graft:migration tag is "other"`, snaps[0]: `graft:role tag is "keep-me"`, snaps[1]: "pending", snaps[2]: "no longer exists"} {
		if !strings.Contains(reasons[id], want) || !strings.Contains(reasons[id], "changed since the plan") {
			t.Errorf("%s kept with %q, want a reason with %q", id, reasons[id], want)
		}
	}
	left := map[string]bool{}
	for _, v := range e.sim.Volumes() {
		left[aws.ToString(v.VolumeId)] = true
	}
	for _, s := range e.sim.Snapshots() {
		left[aws.ToString(s.SnapshotId)] = true
	}
	for _, id := range []string{attached, retagged, snaps[0], snaps[1]} {
		if !left[id] {
			t.Errorf("%s was deleted", id)
		}
	}
	if left[untouched] || left[snaps[3]] {
		t.Errorf("unchanged items were not deleted")
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestSimFSRDisabledWhenCreateVolumeFails: fast snapshot restore, once
// enabled, is disabled again even when CreateVolume fails.
func TestSimFSRDisabledWhenCreateVolumeFails(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true, FSR: true})
	e.sim.Inject(ec2sim.Fault{Op: ec2sim.OpCreateVolume, Match: func(c ec2sim.Call) bool { return !c.DryRun }, Nth: 1,
		Code: "InsufficientVolumeCapacity", Message: "There is not enough capacity to fulfill your request."})
	ctx := ctxT(t, 30*time.Second)
	_, err := e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrMembersFailed) || !strings.Contains(err.Error(), "InsufficientVolumeCapacity") {
		t.Fatalf("err = %v", err)
	}
	enabled, disabled := 0, 0
	for _, c := range e.sim.Calls() {
		switch {
		case c.DryRun || c.Code != "":
		case c.Op == ec2sim.OpEnableFastSnapshotRestores:
			enabled++
		case c.Op == ec2sim.OpDisableFastSnapshotRestores:
			disabled++
		}
	}
	if enabled != 2 || disabled != 2 {
		t.Errorf("FSR enabled %d times, disabled %d times; want 2 and 2", enabled, disabled)
	}
	out, err := e.sim.DescribeFastSnapshotRestores(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.FastSnapshotRestores {
		if f.State != types.FastSnapshotRestoreStateCodeDisabled && f.State != types.FastSnapshotRestoreStateCodeDisabling {
			t.Errorf("fast snapshot restore left %s on %s", f.State, aws.ToString(f.SnapshotId))
		}
	}
	// The re-run creates the missing volume and leaves FSR off.
	if _, err := e.clone(ctx, spec.PhaseFinal); err != nil {
		t.Fatal(err)
	}
	rec := loadRecord(t, e.lock)
	if len(rec.Volumes) != 2 {
		t.Errorf("record: %d volumes", len(rec.Volumes))
	}
}

// TestSimExistingVolumeMismatch: a graft volume found by tag whose IOPS,
// throughput or KMS key differ from the spec stops the member with an
// error naming the volume, the fields, found and expected.
func TestSimExistingVolumeMismatch(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true, KMSKey: simKey})
	ctx := ctxT(t, 30*time.Second)
	rec := e.cloneAndRecord(t, ctx, 1)
	vol := rec.Volumes[0].TargetVolume
	const otherKey = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab"
	e.m.Spec.Target.Volume.IOPS = 5000
	e.m.Spec.Target.Volume.Throughput = 300
	e.m.Spec.Target.Volume.KMSKeyID = otherKey
	_, err := e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{vol, "cassandra/0 data", "iops: found 4000, expected 5000", "throughput: found 250, expected 300",
		"kmsKeyId: found " + simKey + ", expected " + otherKey, "revert the spec"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	for _, v := range e.sim.Volumes() {
		if id := aws.ToString(v.VolumeId); tagMap(v.Tags)[ownership.TagRole] == ownership.RoleVolume && id != vol {
			t.Errorf("a second volume %s was created", id)
		}
	}
}

const wrongKey = "arn:aws:kms:us-east-1:123456789012:key/eeeeeeee-12ab-34cd-56ef-1234567890ab"

// TestSimReusedVolumeWrongKey: without spec.target.volume.kmsKeyId the new
// volumes must keep the source's key. A graft volume found by tag that has
// another key is refused, by plan (!) and by clone, naming both keys.
func TestSimReusedVolumeWrongKey(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	eng := e.engine()
	inv := discover(t, ctx, eng)
	mb, d := inv.Members[0], inv.Members[0].Devices[0]
	if !d.Encrypted || d.KMSKeyID == "" {
		t.Fatalf("source volume not encrypted: %+v", d)
	}
	tags := map[string]string{ownership.TagMigration: "sim", ownership.TagMember: mb.Key(), ownership.TagRole: ownership.RoleVolume, ownership.TagClaimTemplate: d.ClaimTemplate}
	out, err := e.sim.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(mb.TargetZone), Size: aws.Int32(d.SizeGiB),
		VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(4000), Throughput: aws.Int32(250), Encrypted: aws.Bool(true), KmsKeyId: aws.String(wrongKey),
		TagSpecifications: volumeTags(tags)})
	if err != nil {
		t.Fatal(err)
	}
	bad := aws.ToString(out.VolumeId)
	plan, err := eng.Plan(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = plan.WriteText(&text)
	if plan.Refused != 1 || !strings.Contains(text.String(), "! final   volume") || !strings.Contains(text.String(), "kmsKeyId: found "+wrongKey+", expected "+d.KMSKeyID) {
		t.Errorf("plan does not refuse the volume with the wrong key:\n%s", text.String())
	}
	_, err = e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{bad, "kmsKeyId: found " + wrongKey + ", expected " + d.KMSKeyID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
}

// keyDropper is an EC2 that, like moto, does not create a volume with the
// key it was asked for.
type keyDropper struct {
	ebs.EC2
}

func (k keyDropper) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, opt ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	c := *in
	c.KmsKeyId = aws.String(wrongKey)
	return k.EC2.CreateVolume(ctx, &c, opt...)
}

// TestSimCreatedVolumeWrongKey: a volume EC2 created with another key than
// the one graft sent is refused, naming both keys, and not recorded.
func TestSimCreatedVolumeWrongKey(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	_, err := e.clone(ctx, spec.PhaseFinal, func(o *ebs.Options) { o.Source = keyDropper{e.sim} })
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("err = %v", err)
	}
	src := e.sim.DefaultKMSKey()
	for _, v := range e.sim.Volumes() {
		if tagMap(v.Tags)[ownership.TagRole] == "" {
			src = aws.ToString(v.KmsKeyId) // the source volume's key
		}
	}
	for _, want := range []string{"kmsKeyId: found " + wrongKey + ", expected " + src, "does not record it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if rec, err := record.Load(e.lock); err == nil && len(rec.Volumes) > 0 {
		t.Errorf("the volume with the wrong key was recorded: %+v", rec.Volumes)
	}
}

// lastFilterWins is an EC2 that treats two filters of one name as moto
// does: the last one replaces the earlier.
type lastFilterWins struct{ ebs.EC2 }

func (l lastFilterWins) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opt ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	c := *in
	c.Filters = nil
	for _, f := range in.Filters {
		replaced := false
		for i := range c.Filters {
			if aws.ToString(c.Filters[i].Name) == aws.ToString(f.Name) {
				c.Filters[i], replaced = f, true
			}
		}
		if !replaced {
			c.Filters = append(c.Filters, f)
		}
	}
	return l.EC2.DescribeInstances(ctx, &c, opt...)
}

const stoppedFilter = `filters: [{name: "tag:app", values: [cassandra]}, {name: instance-state-name, values: [stopped]}]`

// TestSimStoppedInstanceRefused: a spec filter on instance-state-name
// brings back a stopped instance of another cluster (with moto's filter
// semantics); discover, and so plan and clone, refuse it by name, state
// and filter.
func TestSimStoppedInstanceRefused(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true, ExtraSpec: specReplace(`filters: [{name: "tag:app", values: [cassandra]}]`, stoppedFilter)})
	id, err := e.sim.AddInstance(ec2sim.InstanceSpec{Tags: map[string]string{"app": "cassandra", "Name": "cassandra-0"}, State: types.InstanceStateNameStopped})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := e.sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 200, Type: types.VolumeTypeGp3, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Attach(vol, id, "/dev/xvdf"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	eng := e.engine(func(o *ebs.Options) { o.Source = lastFilterWins{e.sim} })
	_, err = eng.Discover(ctx)
	var derr *ebs.DiscoveryError
	if !errors.As(err, &derr) {
		t.Fatalf("discover accepted a stopped instance: %v", err)
	}
	for _, want := range []string{ebs.ProblemNotRunning, id, "is stopped, not running", "remove spec.source.filters[1] (instance-state-name=stopped)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if calls := e.sim.MutatingCallsOn(id, vol); len(calls) > 0 {
		t.Errorf("mutating calls on the stopped instance: %v", calls)
	}
}

func deleteVolumeInput(id string) *ec2.DeleteVolumeInput {
	return &ec2.DeleteVolumeInput{VolumeId: aws.String(id)}
}

func createVolume(t *testing.T, sim *ec2sim.Sim, tags map[string]string) string {
	t.Helper()
	out, err := sim.CreateVolume(context.Background(), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(10), VolumeType: types.VolumeTypeGp3, TagSpecifications: volumeTags(tags)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VolumeId)
}

// volumeTags is the tag specification of a volume with tags.
func volumeTags(tags map[string]string) []types.TagSpecification {
	ts := types.TagSpecification{ResourceType: types.ResourceTypeVolume}
	for k, v := range tags {
		ts.Tags = append(ts.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return []types.TagSpecification{ts}
}

// TestSimPlanMatchesClone runs plan and then clone over the same EC2
// states and compares what plan said with what clone did (the simulator's
// audit log): the calls per operation, the members it refuses, and the
// existing resources it reuses. Plan and clone share one decision, so
// they cannot disagree.
func TestSimPlanMatchesClone(t *testing.T) {
	const otherKey = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab"
	c := simCase{Nodes: 2, Devices: 2, KMSKey: simKey, NoHook: true, Snapshot: 2 * time.Minute}
	precopy := func(t *testing.T, e *simEnv, ctx context.Context) {
		if _, err := e.clone(ctx, spec.PhasePrecopy); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(t *testing.T, e *simEnv, ctx context.Context) {
		if err := e.cloneAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// snapOf finds graft's snapshot of a role and phase of a source volume.
	snapOf := func(t *testing.T, e *simEnv, role, phase, vol string) string {
		for _, s := range e.sim.Snapshots() {
			tags := tagMap(s.Tags)
			src := aws.ToString(s.VolumeId)
			if role == ownership.RoleCopy {
				src = tags[ownership.TagSourceVolume]
			}
			if tags[ownership.TagRole] == role && tags[ownership.TagPhase] == phase && src == vol {
				return aws.ToString(s.SnapshotId)
			}
		}
		t.Fatalf("no %s %s of %s", role, phase, vol)
		return ""
	}
	cases := []struct {
		name   string
		setup  func(t *testing.T, e *simEnv, ctx context.Context)
		drift  func(m *spec.Migration)
		phase  string
		refuse int // members clone refuses
	}{
		{name: "fresh precopy", phase: spec.PhasePrecopy},
		{name: "fresh final", phase: spec.PhaseFinal},
		{name: "partial", setup: precopy, phase: spec.PhaseFinal},
		{name: "complete", setup: complete, phase: spec.PhaseFinal},
		{name: "drift throughput", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.Throughput = 300 }},
		{name: "drift iops", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.IOPS = 5000 }},
		{name: "drift type", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.Type = "io2"; m.Spec.Target.Volume.Throughput = 0 }},
		{name: "drift kms key", setup: complete, phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.KMSKeyID = otherKey }},
		// target.cluster set after the clone: the volumes are tagged.
		{name: "cluster added", setup: complete, phase: spec.PhaseFinal, drift: func(m *spec.Migration) { m.Spec.Target.Cluster = &spec.Cluster{Name: "prod"} }},
		// after a clone for cluster blue: refused.
		{name: "cluster changed", phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Cluster = &spec.Cluster{Name: "prod"} }, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			e.m.Spec.Target.Cluster = &spec.Cluster{Name: "blue", StorageDriver: spec.StorageDriverAutoMode}
			complete(t, e, ctx)
		}},
		{name: "drift with a missing final snapshot", phase: spec.PhaseFinal, refuse: 2, drift: func(m *spec.Migration) { m.Spec.Target.Volume.Throughput = 300 }, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			complete(t, e, ctx)
			for _, dev := range []string{"/dev/xvdf", "/dev/xvdg"} {
				for _, role := range []string{ownership.RoleSnapshot, ownership.RoleCopy} {
					id := snapOf(t, e, role, spec.PhaseFinal, e.cl.Nodes[0].DataVolumes[dev])
					deleteSnapshot(t, ctx, e.sim, id)
				}
			}
		}},
		{name: "snapshot in error", phase: spec.PhasePrecopy, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			precopy(t, e, ctx)
			id := snapOf(t, e, ownership.RoleSnapshot, spec.PhasePrecopy, e.cl.Nodes[0].DataVolumes["/dev/xvdg"])
			if err := e.sim.SetSnapshotState(id, types.SnapshotStateError, "internal error"); err != nil {
				t.Fatal(err)
			}
			// Its copy goes too: a copy of a failed snapshot is made again.
			cp := snapOf(t, e, ownership.RoleCopy, spec.PhasePrecopy, e.cl.Nodes[0].DataVolumes["/dev/xvdg"])
			deleteSnapshot(t, ctx, e.sim, cp)
		}},
		{name: "missing copy", phase: spec.PhasePrecopy, setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			precopy(t, e, ctx)
			cp := snapOf(t, e, ownership.RoleCopy, spec.PhasePrecopy, e.cl.Nodes[1].DataVolumes["/dev/xvdf"])
			deleteSnapshot(t, ctx, e.sim, cp)
		}},
		{name: "missing final copy", setup: func(t *testing.T, e *simEnv, ctx context.Context) {
			complete(t, e, ctx)
			rec := loadRecord(t, e.lock)
			// The record's volume goes too, so that the copy is needed again.
			for _, v := range rec.Volumes[:1] {
				if _, err := e.sim.DeleteVolume(ctx, deleteVolumeInput(v.TargetVolume)); err != nil {
					t.Fatal(err)
				}
				deleteSnapshot(t, ctx, e.sim, v.CopiedSnapshot)
			}
		}, phase: spec.PhaseFinal},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			e := newSim(t, c)
			ctx := ctxT(t, 60*time.Second)
			if tc.setup != nil {
				tc.setup(t, e, ctx)
			}
			if tc.drift != nil {
				tc.drift(e.m)
			}
			plan := e.discoverAndPlan(t, ctx)
			var text strings.Builder
			_ = plan.WriteText(&text)

			// What plan says the phase does.
			want := map[string]int{}
			refused := map[string]bool{}
			reused := map[string]string{} // member + template -> volume
			existing := map[string]int{}  // role -> resources reused, both phases
			for _, pm := range plan.Members {
				multi := false
				for _, a := range pm.Actions {
					if a.Refused != "" {
						refused[pm.Member] = true
					} else if a.Exists != "" {
						existing[a.Role]++
					}
				}
				for _, a := range pm.Actions {
					if a.Phase != tc.phase {
						continue
					}
					switch {
					case a.Role == ownership.RoleVolume && a.Exists != "":
						reused[pm.Member+" "+a.ClaimTemplate] = a.Exists
					case a.Exists != "", a.Stopped:
					case a.Role == ownership.RoleSnapshot && a.Op == "CreateSnapshots":
						multi = true
					default:
						want[a.Op]++
					}
				}
				if multi {
					want["CreateSnapshots"]++
				}
			}
			if len(refused) != tc.refuse {
				t.Errorf("plan refuses %d members, want %d:\n%s", len(refused), tc.refuse, text.String())
			}
			if fmt.Sprint(plan.Existing) != fmt.Sprint(existing) {
				t.Errorf("plan counts %v existing, its actions name %v", plan.Existing, existing)
			}
			if strings.Contains(tc.name, "missing final snapshot") && (!strings.Contains(text.String(), "  - final   snapshot") || plan.ToCreate[ownership.RoleSnapshot] != 0) {
				t.Errorf("plan does not show the snapshots clone will not make with -:\n%s", text.String())
			}
			if tc.refuse > 0 && (plan.Refused != 2*tc.refuse || !strings.Contains(text.String(), "  ! final   volume")) {
				t.Errorf("plan does not show the refused volumes with !:\n%s", text.String())
			}

			e.sim.ResetAudit()
			res, err := e.clone(ctx, tc.phase)
			got := map[string]int{}
			for _, call := range e.sim.Calls() {
				if call.Mutated && !call.DryRun && call.Op != ec2sim.OpDeleteSnapshot {
					got[call.Op]++
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("clone made %v, plan said %v\n%s", got, want, text.String())
			}
			failed := map[string]bool{}
			if res != nil {
				for _, f := range res.Failed() {
					failed[f.Member] = true
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(refused) {
				t.Errorf("clone stopped %v (err %v), plan refused %v", failed, err, refused)
			}
			if tc.refuse == 0 && err != nil {
				t.Fatal(err)
			}
			if tc.refuse > 0 && !errors.Is(err, ebs.ErrMembersFailed) {
				t.Fatalf("err = %v", err)
			}
			if tc.phase == spec.PhaseFinal && tc.refuse == 0 {
				rec := loadRecord(t, e.lock)
				for _, v := range rec.Volumes {
					k := fmt.Sprintf("%s/%d %s", v.StatefulSet, v.Ordinal, v.ClaimTemplate)
					if id, ok := reused[k]; ok && id != v.TargetVolume {
						t.Errorf("%s: plan reuses %s, clone recorded %s", k, id, v.TargetVolume)
					}
				}
			}
		})
	}
}

// TestSimPlanTimeFromWhatIsLeft: the plan's expected durations come from
// what is left to do: both phases on a fresh migration, only the final
// one after the precopy, none once everything exists (a second graft run
// once printed "precopy ~22m" with nothing to do).
func TestSimPlanTimeFromWhatIsLeft(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 2, NoHook: true, Snapshot: 2 * time.Minute})
	ctx := ctxT(t, 30*time.Second)
	plan := func() *ebs.Plan {
		t.Helper()
		p := e.discoverAndPlan(t, ctx)
		return p
	}
	if p := plan(); p.Precopy == 0 || p.Final == 0 {
		t.Errorf("fresh: precopy %v, final %v; want both > 0", time.Duration(p.Precopy), time.Duration(p.Final))
	}
	if _, err := e.clone(ctx, spec.PhasePrecopy); err != nil {
		t.Fatal(err)
	}
	if p := plan(); p.Precopy != 0 || p.Final == 0 {
		t.Errorf("after precopy: precopy %v, final %v; want 0 and > 0", time.Duration(p.Precopy), time.Duration(p.Final))
	}
	if _, err := e.clone(ctx, spec.PhaseFinal); err != nil {
		t.Fatal(err)
	}
	p := plan()
	var text strings.Builder
	_ = p.WriteText(&text)
	if p.Precopy != 0 || p.Final != 0 || !strings.Contains(text.String(), "precopy phase ~0s, final phase ~0s") {
		t.Errorf("nothing left: precopy %v, final %v\n%s", time.Duration(p.Precopy), time.Duration(p.Final), text.String())
	}
}

// recorder keeps the CopySnapshot and CreateVolume inputs an EC2 gets.
type recorder struct {
	ebs.EC2
	mu     sync.Mutex
	copies []ec2.CopySnapshotInput
	vols   []ec2.CreateVolumeInput
}

func (r *recorder) CopySnapshot(ctx context.Context, in *ec2.CopySnapshotInput, opt ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error) {
	r.mu.Lock()
	r.copies = append(r.copies, *in)
	r.mu.Unlock()
	return r.EC2.CopySnapshot(ctx, in, opt...)
}

func (r *recorder) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, opt ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	r.mu.Lock()
	r.vols = append(r.vols, *in)
	r.mu.Unlock()
	return r.EC2.CreateVolume(ctx, in, opt...)
}

// TestSimDryRunProvesTheCallsCloneMakes: every DryRun proof carries the
// input of a call clone then makes (the dry run once proved CopySnapshot
// with Encrypted: true while the real copy of an unencrypted volume went
// without it).
func TestSimDryRunProvesTheCallsCloneMakes(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true, Unencrypted: true, ExtraSpec: toUSWest2})
	rec := &recorder{EC2: e.sim.NewRegion("us-west-2")}
	ctx := ctxT(t, 30*time.Second)
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		if _, err := e.clone(ctx, phase, func(o *ebs.Options) { o.Target = rec }); err != nil {
			t.Fatal(err)
		}
	}
	copyKey := func(in ec2.CopySnapshotInput) string {
		return fmt.Sprintf("encrypted=%v key=%q from %s", aws.ToBool(in.Encrypted), aws.ToString(in.KmsKeyId), aws.ToString(in.SourceRegion))
	}
	volKey := func(in ec2.CreateVolumeInput) string {
		return fmt.Sprintf("%s %s iops=%d tput=%d encrypted=%v key=%q", aws.ToString(in.AvailabilityZone), in.VolumeType, aws.ToInt32(in.Iops), aws.ToInt32(in.Throughput), aws.ToBool(in.Encrypted), aws.ToString(in.KmsKeyId))
	}
	dry := dryRunsProven(t, "CopySnapshot", rec.copies, func(in ec2.CopySnapshotInput) *bool { return in.DryRun }, copyKey) +
		dryRunsProven(t, "CreateVolume", rec.vols, func(in ec2.CreateVolumeInput) *bool { return in.DryRun }, volKey)
	if dry < 2 {
		t.Errorf("only %d DryRun proofs of CopySnapshot and CreateVolume", dry)
	}
}

// dryRunsProven checks that every DryRun call of op among calls asks for
// what a real one does (by key), and returns how many DryRun calls there
// were.
func dryRunsProven[I any](t *testing.T, op string, calls []I, dryRun func(I) *bool, key func(I) string) int {
	t.Helper()
	real := map[string]bool{}
	for _, in := range calls {
		if !aws.ToBool(dryRun(in)) {
			real[key(in)] = true
		}
	}
	dry := 0
	for _, in := range calls {
		if aws.ToBool(dryRun(in)) {
			dry++
			if !real[key(in)] {
				t.Errorf("DryRun %s %s; clone's real calls: %v", op, key(in), real)
			}
		}
	}
	return dry
}

// deleteSnapshot deletes a snapshot, as someone else would.
func deleteSnapshot(t testing.TB, ctx context.Context, sim *ec2sim.Sim, id string) {
	t.Helper()
	if _, err := sim.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

// TestSimPartitionReachesTheRecord: a device's spec partition is carried
// into the inventory discover writes and into the record clone writes, for
// that device only; a device without one records the whole volume.
func TestSimPartitionReachesTheRecord(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 2, NoHook: true, ExtraSpec: specReplace("claimTemplate: commitlog, fsType: xfs}", "claimTemplate: commitlog, fsType: xfs, partition: 2}")})
	ctx := ctxT(t, 30*time.Second)
	inv := discover(t, ctx, e.engine())
	for _, mb := range inv.Members {
		for _, d := range mb.Devices {
			want := map[string]int{"data": 0, "commitlog": 2}[d.ClaimTemplate]
			if d.Partition != want {
				t.Errorf("inventory %s %s: partition %d, want %d", mb.Key(), d.ClaimTemplate, d.Partition, want)
			}
		}
	}
	rec := e.cloneAndRecord(t, ctx, 4)
	for _, v := range rec.Volumes {
		want := map[string]int{"data": 0, "commitlog": 2}[v.ClaimTemplate]
		if v.Partition != want {
			t.Errorf("record %s: partition %d, want %d", v.ClaimName(), v.Partition, want)
		}
	}
	// A partition corrected in the spec after the clone reaches the record
	// on a re-run, which creates nothing.
	e.m.Spec.Source.Devices[0].Partition = 1
	before := e.sim.Stats().Mutations
	res, err := e.clone(ctx, spec.PhaseFinal)
	if err != nil || len(res.Created) != 0 || e.sim.Stats().Mutations != before {
		t.Fatalf("re-run: %v, created %v, mutations %d -> %d", err, res.Created, before, e.sim.Stats().Mutations)
	}
	if rec, err = record.Load(e.lock); err != nil {
		t.Fatal(err)
	}
	for _, v := range rec.Volumes {
		want := map[string]int{"data": 1, "commitlog": 2}[v.ClaimTemplate]
		if v.Partition != want {
			t.Errorf("re-run: record %s: partition %d, want %d", v.ClaimName(), v.Partition, want)
		}
	}
}

// discoverAndPlan discovers the simulated source and plans its clone.
func (e *simEnv) discoverAndPlan(t *testing.T, ctx context.Context) *ebs.Plan {
	t.Helper()
	return discoverAndPlan(t, ctx, e.engine())
}

// discoverAndPlan discovers with eng and plans the clone (the simulator's
// and moto's tests).
// specReplace is a simCase's ExtraSpec that replaces the first from in the
// spec with to.
func specReplace(from, to string) func(string) string {
	return func(y string) string { return strings.Replace(y, from, to, 1) }
}

// discover runs eng's discover, which must succeed.
func discover(t testing.TB, ctx context.Context, eng *ebs.Engine) *ebs.Inventory {
	t.Helper()
	inv, err := eng.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func discoverAndPlan(t *testing.T, ctx context.Context, eng *ebs.Engine) *ebs.Plan {
	t.Helper()
	inv := discover(t, ctx, eng)
	p, err := eng.Plan(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withCluster adds spec.target.cluster (the cluster prod, with driver) to
// a simulated case's spec; driver "" leaves the spec without one.
func withCluster(driver string) func(string) string {
	return func(y string) string {
		if driver == "" {
			return y
		}
		return strings.Replace(y, "    namespace: db\n", "    namespace: db\n    cluster: {name: prod, storageDriver: "+driver+"}\n", 1)
	}
}

// TestSimClusterDriverAndTagsReachTheRecord: with spec.target.cluster every
// new volume carries the tags its driver and IAM policy need, and the record
// names the driver and those tags; without it, neither (ebs.csi.aws.com).
func TestSimClusterDriverAndTagsReachTheRecord(t *testing.T) {
	for driver, want := range map[string]string{"": "", "ebs-csi": "ebs.csi.aws.com", "eks-auto-mode": "ebs.csi.eks.amazonaws.com"} {
		t.Run("driver="+driver, func(t *testing.T) {
			e := newSim(t, simCase{Nodes: 2, NoHook: true, ExtraSpec: withCluster(driver)})
			ctx := ctxT(t, 30*time.Second)
			rec := e.cloneAndRecord(t, ctx, 2)
			wantTags := map[string]map[string]string{
				"ebs-csi":       {"ebs.csi.aws.com/cluster": "true", "ebs.csi.aws.com/cluster-name": "prod"},
				"eks-auto-mode": {"eks:eks-cluster-name": "prod"},
			}[driver]
			for _, v := range rec.Volumes {
				if v.CSIDriver != want {
					t.Errorf("record %s: csiDriver %q, want %q", v.ClaimName(), v.CSIDriver, want)
				}
				if !maps.Equal(v.ClusterTags, wantTags) {
					t.Errorf("record %s: clusterTags %v, want %v", v.ClaimName(), v.ClusterTags, wantTags)
				}
				out, err := e.sim.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{v.TargetVolume}})
				if err != nil || len(out.Volumes) != 1 {
					t.Fatalf("describe %s: %v", v.TargetVolume, err)
				}
				got := map[string]string{}
				for _, tg := range out.Volumes[0].Tags {
					got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
				for _, k := range []string{"ebs.csi.aws.com/cluster", "ebs.csi.aws.com/cluster-name", "eks:eks-cluster-name"} {
					if got[k] != wantTags[k] {
						t.Errorf("volume %s: tag %s=%q, want %q", v.TargetVolume, k, got[k], wantTags[k])
					}
				}
				if got["team"] != "data" || got["graft:migration"] != "sim" {
					t.Errorf("volume %s lost graft's or the spec's tags: %v", v.TargetVolume, got)
				}
			}
		})
	}
}

// TestSimPlanSaysWhichPolicyTheTagsSatisfy: with spec.target.cluster the
// plan names the tags and the managed policies they satisfy (text and
// JSON); without it, the plan says nothing of a cluster.
func TestSimPlanSaysWhichPolicyTheTagsSatisfy(t *testing.T) {
	cases := map[string]string{
		"":              "",
		"ebs-csi":       "Cluster prod (ebs-csi, driver ebs.csi.aws.com): new volumes are tagged ebs.csi.aws.com/cluster=true, ebs.csi.aws.com/cluster-name=prod, which satisfies AmazonEBSCSIDriverPolicyV2 and AmazonEBSCSIDriverEKSClusterScopedPolicy (attach, detach, modify).\n",
		"eks-auto-mode": "Cluster prod (eks-auto-mode, driver ebs.csi.eks.amazonaws.com): new volumes are tagged eks:eks-cluster-name=prod, which satisfies AmazonEKSBlockStoragePolicy (attach, detach, modify).\n",
	}
	for driver, want := range cases {
		t.Run("driver="+driver, func(t *testing.T) {
			e := newSim(t, simCase{Nodes: 1, NoHook: true, ExtraSpec: withCluster(driver)})
			ctx := ctxT(t, 30*time.Second)
			p := e.discoverAndPlan(t, ctx)
			var text, js bytes.Buffer
			if err := p.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(text.String(), "\n")
			if want == "" {
				if strings.Contains(text.String(), "Cluster ") || strings.Contains(js.String(), `"cluster"`) {
					t.Errorf("a plan without target.cluster mentions one:\n%s\n%s", text.String(), js.String())
				}
				return
			}
			if len(lines) < 2 || lines[1] != want {
				t.Errorf("plan line 2 = %q, want %q", lines[1], want)
			}
			if !strings.Contains(js.String(), `"csiDriver"`) || !strings.Contains(js.String(), `"policies"`) {
				t.Errorf("JSON plan lacks the cluster:\n%s", js.String())
			}
		})
	}
}

// TestSimDeviceNames: the spec's /dev/sdf finds the volume EC2 reports as
// /dev/xvdf (one slot), and a device the instances do not have is a named
// problem that lists what they have, before anything is created.
func TestSimDeviceNames(t *testing.T) {
	e := newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true, ExtraSpec: specReplace("name: /dev/xvdf,", "name: /dev/sdf,")})
	ctx := ctxT(t, 30*time.Second)
	inv := discover(t, ctx, e.engine())
	for _, mb := range inv.Members {
		if len(mb.Devices) != 1 || mb.Devices[0].Device != "/dev/xvdf" || mb.Devices[0].VolumeID == "" {
			t.Fatalf("member %s: devices %+v, want /dev/xvdf with its volume", mb.Key(), mb.Devices)
		}
	}
	e = newSim(t, simCase{Nodes: 2, Devices: 1, NoHook: true, ExtraSpec: specReplace("name: /dev/xvdf,", "name: /dev/sdb,")})
	_, err := e.engine().Discover(ctx)
	var derr *ebs.DiscoveryError
	if !errors.As(err, &derr) {
		t.Fatalf("discover accepted a device the instances do not have: %v", err)
	}
	for _, want := range []string{ebs.ProblemMissingDevice, "has no EBS device /dev/sdb", "it has /dev/xvda, /dev/xvdf", "instance store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	for _, c := range e.sim.Calls() {
		if c.Mutating {
			t.Errorf("a refused discover made a mutating call: %+v", c)
		}
	}
}

// TestSimPlanNamesVolumesLeftBehind: an attached EBS volume that
// spec.source.devices does not name is not migrated, and the plan says so
// by member and volume; with every device named it says nothing of it.
func TestSimPlanNamesVolumesLeftBehind(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	warnings := func(e *simEnv) string {
		t.Helper()
		eng := e.engine()
		p, err := eng.Plan(ctx, discover(t, ctx, eng))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(p.Warnings, "\n")
	}
	e := newSim(t, simCase{Nodes: 5, Devices: 2, NoHook: true, ExtraSpec: specReplace("      - {name: /dev/xvdg, claimTemplate: commitlog, fsType: xfs}\n", "")})
	got := warnings(e)
	for _, want := range []string{
		"not migrated: 5 member(s) have attached EBS volumes that spec.source.devices does not name",
		"cassandra/0: " + e.cl.Nodes[0].DataVolumes["/dev/xvdg"],
		"; 2 more)",
		"a RAID or LVM set",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan warnings lack %q:\n%s", want, got)
		}
	}
	if got := warnings(newSim(t, simCase{Nodes: 2, Devices: 2, NoHook: true})); strings.Contains(got, "not migrated") {
		t.Errorf("every device is named, yet the plan warns:\n%s", got)
	}
}
