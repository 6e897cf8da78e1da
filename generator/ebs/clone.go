package ebs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

// ErrMembersFailed is wrapped when some members stopped; the others went
// on and the record holds them.
var ErrMembersFailed = errors.New("some members did not finish")

// ErrDryRun is wrapped when a DryRun call shows that clone would fail.
var ErrDryRun = errors.New("dry run: clone would fail")

// CloneOptions are one clone run's choices.
type CloneOptions struct {
	// Phase is spec.PhasePrecopy (snapshots, and copies, while the
	// application runs) or spec.PhaseFinal (hook, final incremental
	// snapshot, copy, volumes, record).
	Phase string
	// Record is the record to update (loaded, or record.New); RecordPath
	// is where it is rewritten, atomically, as each member finishes.
	Record     *record.Record
	RecordPath string
	// RunHook runs one beforeFinal command; nil runs it with os/exec.
	RunHook func(ctx context.Context, argv []string) ([]byte, error)
}

// MemberResult is how one member's run ended.
type MemberResult struct {
	Member string
	Err    error
}

// CloneResult is the outcome of a clone run.
type CloneResult struct {
	Members []MemberResult
	// Created counts the resources this run created, by role.
	Created map[string]int
}

// Failed returns the members that stopped.
func (r *CloneResult) Failed() []MemberResult {
	var out []MemberResult
	for _, m := range r.Members {
		if m.Err != nil {
			out = append(out, m)
		}
	}
	return out
}

type cloneRun struct {
	e      *Engine
	inv    *Inventory
	opts   CloneOptions
	x      *existing
	srcPol *poller
	dstPol *poller
	recMu  sync.Mutex

	mu      sync.Mutex
	created map[string]int
}

// Clone snapshots every member's data volumes and, in the final phase,
// creates the new volumes and records them. It first proves every kind of
// call it will make with EC2 DryRun, so a missing permission or an
// unusable KMS key stops it before anything is created. Members run
// concurrently; one member's failure leaves the others going. Re-running
// after any interruption resumes: every create is preceded by a look-up
// by tag, and CreateVolume carries a deterministic ClientToken.
func (e *Engine) Clone(ctx context.Context, inv *Inventory, opts CloneOptions) (*CloneResult, error) {
	if opts.Phase != spec.PhasePrecopy && opts.Phase != spec.PhaseFinal {
		return nil, fmt.Errorf("%w: phase %q, expected %s or %s", ErrInput, opts.Phase, spec.PhasePrecopy, spec.PhaseFinal)
	}
	if opts.Phase == spec.PhaseFinal && opts.Record == nil {
		opts.Record = record.New(e.m)
	}
	x, err := e.lookup(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range x.dups {
		e.log.Warn("graft resource found twice; using the newest", "key", d)
	}
	if err := e.preflight(ctx, inv, x, opts.Phase); err != nil {
		return nil, err
	}
	pctx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	r := &cloneRun{e: e, inv: inv, opts: opts, x: x, created: map[string]int{}}
	r.srcPol = newPoller(e.src, e.clock, e.opts.PollInterval, e.stats)
	go r.srcPol.run(pctx)
	r.dstPol = r.srcPol
	if e.dst != e.src {
		r.dstPol = newPoller(e.dst, e.clock, e.opts.PollInterval, e.stats)
		go r.dstPol.run(pctx)
	}

	res := &CloneResult{Members: make([]MemberResult, len(inv.Members))}
	n := len(inv.Members)
	if e.opts.Concurrency > 0 {
		n = e.opts.Concurrency
	}
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for i, mb := range inv.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				res.Members[i] = MemberResult{Member: mb.Key(), Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			err := r.member(ctx, mb)
			e.opts.Progress.Done(mb.Key(), err)
			res.Members[i] = MemberResult{Member: mb.Key(), Err: err}
		}()
	}
	wg.Wait()
	stopPoll()
	res.Created = r.created
	failed := res.Failed()
	if ctx.Err() != nil {
		return res, fmt.Errorf("interrupted: %d of %d members finished; what was created is tagged and recorded, re-run graft clone to resume: %w", len(inv.Members)-len(failed), len(inv.Members), ctx.Err())
	}
	if len(failed) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d of %d members stopped (the others finished", len(failed), len(inv.Members))
		if opts.Phase == spec.PhaseFinal {
			b.WriteString(" and are in the record")
		}
		b.WriteString("); re-run graft clone to resume:")
		for _, f := range failed {
			fmt.Fprintf(&b, "\n  - %s: %v", f.Member, f.Err)
		}
		return res, fmt.Errorf("%w: %s", ErrMembersFailed, b.String())
	}
	return res, nil
}

func (r *cloneRun) count(role string) {
	r.mu.Lock()
	r.created[role]++
	r.mu.Unlock()
}

// member runs one member through the phase.
func (r *cloneRun) member(ctx context.Context, mb Member) error {
	e := r.e
	prog := e.opts.Progress
	prog.Update(mb.Key(), "starting", 0)
	snaps, err := r.snapshots(ctx, mb)
	if err != nil {
		return err
	}
	origin := map[string]string{} // source volume -> snapshot the volume is made from
	copies := map[string]string{}
	for _, d := range mb.Devices {
		origin[d.VolumeID] = snaps[d.VolumeID]
	}
	for _, d := range mb.Devices {
		if !e.needsCopy(d) {
			continue
		}
		id, err := r.copySnapshot(ctx, mb, d, snaps[d.VolumeID])
		if err != nil {
			return err
		}
		copies[d.VolumeID] = id
		origin[d.VolumeID] = id
	}
	if r.opts.Phase == spec.PhasePrecopy {
		return nil
	}
	var entries []record.Volume
	for i, d := range mb.Devices {
		p := volumeParams(&e.m.Spec, mb, d)
		prog.Update(mb.Key(), fmt.Sprintf("volume %d/%d", i+1, len(mb.Devices)), 100*i/len(mb.Devices))
		vol, err := r.volume(ctx, mb, d, p, origin[d.VolumeID])
		if err != nil {
			return err
		}
		ent := record.Volume{
			StatefulSet: mb.StatefulSet, Ordinal: mb.Ordinal, ClaimTemplate: d.ClaimTemplate,
			SourceInstance: mb.Instance, SourceDevice: d.Device, SourceVolume: d.VolumeID, SourceZone: mb.Zone,
			Snapshots:      map[string]string{spec.PhaseFinal: snaps[d.VolumeID]},
			CopiedSnapshot: copies[d.VolumeID],
			TargetVolume:   aws.ToString(vol.VolumeId), TargetZone: aws.ToString(vol.AvailabilityZone),
			SizeGiB: aws.ToInt32(vol.Size), VolumeType: string(vol.VolumeType), IOPS: aws.ToInt32(vol.Iops),
			Throughput: aws.ToInt32(vol.Throughput), Encrypted: aws.ToBool(vol.Encrypted), KMSKeyID: aws.ToString(vol.KmsKeyId),
			FSType: d.FSType,
		}
		if pre, ok := r.x.snap(snapKey(RoleSnapshot, mb.Key(), spec.PhasePrecopy, d.VolumeID)); ok {
			ent.Snapshots[spec.PhasePrecopy] = aws.ToString(pre.SnapshotId)
		}
		entries = append(entries, ent)
	}
	return r.writeRecord(entries)
}

func (r *cloneRun) writeRecord(entries []record.Volume) error {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	for _, v := range entries {
		r.opts.Record.Upsert(v)
	}
	if r.opts.RecordPath == "" {
		return nil
	}
	if err := r.opts.Record.Write(r.opts.RecordPath); err != nil {
		return fmt.Errorf("write %s: %w", r.opts.RecordPath, err)
	}
	return nil
}

// snapshots returns the phase's snapshot of every data volume of the
// member, creating the missing ones (after the beforeFinal hook in the
// final phase) and waiting for them to complete.
func (r *cloneRun) snapshots(ctx context.Context, mb Member) (map[string]string, error) {
	e, phase := r.e, r.opts.Phase
	out := map[string]string{}
	completed := map[string]bool{}
	var missing []Device
	for _, d := range mb.Devices {
		k := snapKey(RoleSnapshot, mb.Key(), phase, d.VolumeID)
		if s, ok := r.x.snap(k); ok {
			out[d.VolumeID] = aws.ToString(s.SnapshotId)
			completed[d.VolumeID] = s.State == types.SnapshotStateCompleted
			continue
		}
		if err := r.deleteFailed(ctx, r.e.src, k); err != nil {
			return nil, err
		}
		missing = append(missing, d)
	}
	if len(missing) > 0 {
		if phase == spec.PhaseFinal && len(e.m.Spec.Hooks.BeforeFinal) > 0 {
			e.opts.Progress.Update(mb.Key(), "hook beforeFinal", 0)
			if err := r.hook(ctx, mb); err != nil {
				return nil, err
			}
		}
		e.opts.Progress.Update(mb.Key(), phase+" snapshot", 0)
		created, err := r.createSnapshots(ctx, mb, missing)
		if err != nil {
			return nil, err
		}
		for v, id := range created {
			out[v] = id
		}
	}
	// Wait for all of them.
	progress := map[string]int{}
	var pmu sync.Mutex
	report := func(vol string, pct int) {
		pmu.Lock()
		progress[vol] = pct
		sum := 0
		for _, d := range mb.Devices {
			sum += progress[d.VolumeID]
		}
		pmu.Unlock()
		e.opts.Progress.Update(mb.Key(), phase+" snapshot", sum/len(mb.Devices))
	}
	for _, d := range mb.Devices {
		id := out[d.VolumeID]
		if completed[d.VolumeID] {
			report(d.VolumeID, 100)
			continue
		}
		if err := r.waitSnapshot(ctx, r.srcPol, mb, d, id, "snapshot", func(p int) { report(d.VolumeID, p) }); err != nil {
			return nil, err
		}
		report(d.VolumeID, 100)
	}
	return out, nil
}

// deleteFailed deletes graft's own snapshot of that key that EC2 put in
// state error, so that a re-run makes a fresh one instead of leaking it.
func (r *cloneRun) deleteFailed(ctx context.Context, c *api, key string) error {
	r.x.mu.Lock()
	s, ok := r.x.failed[key]
	delete(r.x.failed, key)
	r.x.mu.Unlock()
	if !ok {
		return nil
	}
	id := aws.ToString(s.SnapshotId)
	if tagMap(s.Tags)[TagMigration] != r.e.m.Metadata.Name {
		return nil
	}
	r.e.log.Info("deleting graft's failed snapshot before retrying", "snapshot", id, "message", aws.ToString(s.StateMessage))
	if _, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}); err != nil && !strings.HasPrefix(errorCode(err), "InvalidSnapshot.NotFound") {
		return fmt.Errorf("delete failed snapshot %s: %w", id, err)
	}
	return nil
}

// createSnapshots snapshots the missing devices: CreateSnapshots per
// instance when several devices are missing (one crash-consistent point in
// time for all of them), CreateSnapshot otherwise.
func (r *cloneRun) createSnapshots(ctx context.Context, mb Member, missing []Device) (map[string]string, error) {
	e, phase := r.e, r.opts.Phase
	var vols, templates []string
	for _, d := range missing {
		vols = append(vols, d.VolumeID)
		templates = append(templates, d.ClaimTemplate)
	}
	tags := map[string]string{
		TagMember: mb.Key(), TagRole: RoleSnapshot, TagPhase: phase, TagSourceInstance: mb.Instance,
		// One CreateSnapshots call tags all its snapshots alike, so these
		// two list every volume; each snapshot's VolumeId says which one
		// it is, and the look-up keys on that.
		TagSourceVolume: strings.Join(vols, ","), TagClaimTemplate: strings.Join(templates, ","),
	}
	desc := fmt.Sprintf("graft %s %s %s snapshot of %s (%s)", e.m.Metadata.Name, mb.Key(), phase, mb.Instance, strings.Join(templates, ", "))
	out := map[string]string{}
	if len(missing) > 1 && len(missing) == len(mb.Devices) {
		in := r.createSnapshotsInput(mb, tags, desc)
		res, err := e.src.CreateSnapshots(ctx, in)
		if err != nil {
			return nil, createError("CreateSnapshots", mb, mb.Instance, err)
		}
		want := map[string]bool{}
		for _, v := range vols {
			want[v] = true
		}
		for _, s := range res.Snapshots {
			v := aws.ToString(s.VolumeId)
			if want[v] {
				out[v] = aws.ToString(s.SnapshotId)
				r.count(RoleSnapshot)
			}
		}
		for _, v := range vols {
			if out[v] == "" {
				return nil, fmt.Errorf("CreateSnapshots on %s returned no snapshot of %s; re-run graft clone", mb.Instance, v)
			}
		}
		return out, nil
	}
	if len(missing) > 1 {
		e.log.Warn("snapshotting the missing devices one by one: the member's other snapshots already exist, so these are not crash-consistent with them", "member", mb.Key())
	}
	for _, d := range missing {
		t := map[string]string{}
		for k, v := range tags {
			t[k] = v
		}
		t[TagSourceVolume], t[TagClaimTemplate] = d.VolumeID, d.ClaimTemplate
		res, err := e.src.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(d.VolumeID),
			Description:       aws.String(fmt.Sprintf("graft %s %s %s snapshot of %s (%s)", e.m.Metadata.Name, mb.Key(), phase, d.VolumeID, d.ClaimTemplate)),
			TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, t),
		})
		if err != nil {
			return nil, createError("CreateSnapshot", mb, d.VolumeID, err)
		}
		out[d.VolumeID] = aws.ToString(res.SnapshotId)
		r.count(RoleSnapshot)
	}
	return out, nil
}

func (r *cloneRun) createSnapshotsInput(mb Member, tags map[string]string, desc string) *ec2.CreateSnapshotsInput {
	rootIsData := false
	for _, d := range mb.Devices {
		if d.Device == mb.RootDevice {
			rootIsData = true
		}
	}
	return &ec2.CreateSnapshotsInput{
		InstanceSpecification: &types.InstanceSpecification{
			InstanceId:           aws.String(mb.Instance),
			ExcludeBootVolume:    aws.Bool(!rootIsData),
			ExcludeDataVolumeIds: mb.OtherVolumes,
		},
		Description:       aws.String(desc),
		TagSpecifications: r.e.tagSpec(types.ResourceTypeSnapshot, tags),
	}
}

// createError words a failed create. An API error is EC2's answer: nothing
// was created. Any other error (a lost connection, a crash) leaves it
// unknown, and the tags let the next run find whatever was created.
func createError(op string, mb Member, on string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s on %s for %s: %w", op, on, mb.Key(), err)
	}
	return fmt.Errorf("%s on %s for %s did not complete (%w); whatever EC2 created is tagged: re-run graft clone to resume", op, on, mb.Key(), err)
}

// waitSnapshot waits for a snapshot or copy to complete.
func (r *cloneRun) waitSnapshot(ctx context.Context, p *poller, mb Member, d Device, id, what string, progress func(int)) error {
	notFound := 0
	err := p.wait(ctx, watchKey{kind: watchSnapshot, id: id}, r.e.opts.SnapshotTimeout, func(st status) (bool, error) {
		switch {
		case st.err != nil:
			r.e.log.Warn("poll failed; retrying next round", "snapshot", id, "error", st.err)
			return false, nil
		case !st.found:
			notFound++
			if notFound > 20 {
				return false, fmt.Errorf("%s %s of %s (%s %s) is gone: EC2 no longer lists it; re-run graft clone to make a new one", what, id, d.VolumeID, mb.Key(), d.ClaimTemplate)
			}
			return false, nil
		case st.state == string(types.SnapshotStateCompleted):
			return true, nil
		case st.state == string(types.SnapshotStateError):
			msg := st.message
			if msg == "" {
				msg = "EC2 gave no reason"
			}
			return false, fmt.Errorf("%s %s of %s (%s %s) failed in EC2: state error: %s; this member stopped, the others go on; re-run graft clone to retry it (graft deletes the failed snapshot first)", what, id, d.VolumeID, mb.Key(), d.ClaimTemplate, msg)
		}
		progress(st.progress)
		return false, nil
	})
	var te *timeoutError
	if errors.As(err, &te) {
		return fmt.Errorf("%s of %s (%s %s): %w", what, d.VolumeID, mb.Key(), d.ClaimTemplate, err)
	}
	return err
}

// copySnapshot copies a snapshot to the target region and/or KMS key.
func (r *cloneRun) copySnapshot(ctx context.Context, mb Member, d Device, snap string) (string, error) {
	e, phase := r.e, r.opts.Phase
	k := snapKey(RoleCopy, mb.Key(), phase, d.VolumeID)
	var id string
	if s, ok := r.x.snap(k); ok {
		id = aws.ToString(s.SnapshotId)
		if s.State == types.SnapshotStateCompleted {
			return id, nil
		}
	} else {
		if err := r.deleteFailed(ctx, e.dst, k); err != nil {
			return "", err
		}
		p := volumeParams(&e.m.Spec, mb, d)
		in := &ec2.CopySnapshotInput{
			SourceRegion:     aws.String(e.m.Spec.Source.Region),
			SourceSnapshotId: aws.String(snap),
			Description:      aws.String(fmt.Sprintf("graft %s %s %s copy of %s (%s %s)", e.m.Metadata.Name, mb.Key(), phase, snap, d.VolumeID, d.ClaimTemplate)),
			TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, map[string]string{
				TagMember: mb.Key(), TagRole: RoleCopy, TagPhase: phase, TagSourceInstance: mb.Instance,
				TagSourceVolume: d.VolumeID, TagClaimTemplate: d.ClaimTemplate,
			}),
		}
		if p.Encrypted {
			in.Encrypted = aws.Bool(true)
		}
		if k := e.m.Spec.Target.Volume.KMSKeyID; k != "" {
			in.KmsKeyId = aws.String(k)
		}
		e.opts.Progress.Update(mb.Key(), phase+" copy", 0)
		res, err := e.dst.CopySnapshot(ctx, in)
		if err != nil {
			return "", createError("CopySnapshot", mb, snap, err)
		}
		id = aws.ToString(res.SnapshotId)
		r.count(RoleCopy)
	}
	err := r.waitSnapshot(ctx, r.dstPol, mb, d, id, "copy", func(p int) { e.opts.Progress.Update(mb.Key(), phase+" copy", p) })
	return id, err
}

// volume returns the member's new volume for one device, creating it (with
// Fast Snapshot Restore around it if the spec asks) and waiting until it is
// available. Fast Snapshot Restore is billed per hour: once enabled, it is
// turned off again however volume returns (see disableFSRAtExit).
func (r *cloneRun) volume(ctx context.Context, mb Member, d Device, p VolumeParams, snap string) (_ types.Volume, err error) {
	e := r.e
	k := volKey(mb.Key(), d.ClaimTemplate)
	var id string
	if v, ok := r.x.vol(k); ok {
		id = aws.ToString(v.VolumeId)
		if p.FSR {
			// An earlier run that stopped after creating the volume may
			// have left fast snapshot restore on.
			defer r.disableFSRAtExit(ctx, mb, snap, p.Zone, &err)
		}
		if diffs := mismatch(v, p, e.m.Spec.Target.Volume.KMSKeyID); len(diffs) > 0 {
			return types.Volume{}, fmt.Errorf("%s %s: graft's volume %s already exists but does not match the spec: %s; the spec changed since the volume was created: revert the spec, or delete the volume (graft cleanup deletes it once no record references it) and re-run graft clone", mb.Key(), d.ClaimTemplate, id, strings.Join(diffs, "; "))
		}
	} else {
		if p.FSR {
			var enabled bool
			enabled, err = r.enableFSR(ctx, mb, snap, p.Zone)
			if enabled {
				defer r.disableFSRAtExit(ctx, mb, snap, p.Zone, &err)
			}
			if err != nil {
				return types.Volume{}, err
			}
		}
		id, err = r.createVolume(ctx, mb, d, p, snap)
		if err != nil {
			return types.Volume{}, err
		}
	}
	var last types.Volume
	err = r.dstPol.wait(ctx, watchKey{kind: watchVolume, id: id}, e.opts.VolumeTimeout, func(st status) (bool, error) {
		switch {
		case st.err != nil:
			e.log.Warn("poll failed; retrying next round", "volume", id, "error", st.err)
			return false, nil
		case st.state == string(types.VolumeStateAvailable) || st.state == string(types.VolumeStateInUse):
			last = *st.volume
			return true, nil
		case st.state == string(types.VolumeStateError):
			return false, fmt.Errorf("volume %s (%s %s, from %s) failed in EC2: state error; this member stopped; delete it with graft cleanup and re-run graft clone", id, mb.Key(), d.ClaimTemplate, snap)
		}
		e.opts.Progress.Update(mb.Key(), "volume "+st.state, 50)
		return false, nil
	})
	if err != nil {
		var te *timeoutError
		if errors.As(err, &te) {
			return types.Volume{}, fmt.Errorf("%s %s: %w", mb.Key(), d.ClaimTemplate, err)
		}
		return types.Volume{}, err
	}
	return last, nil
}

// fsrDisableTimeout bounds turning fast snapshot restore off when volume
// returns, also after the run was interrupted.
const fsrDisableTimeout = 2 * time.Minute

// disableFSRAtExit turns fast snapshot restore off when volume returns,
// on every path: success, a failed CreateVolume or wait, or an interrupted
// run. It uses a context that survives the run's cancellation, bounded by
// fsrDisableTimeout. A failure to disable becomes volume's error, or is
// added to it.
func (r *cloneRun) disableFSRAtExit(ctx context.Context, mb Member, snap, zone string, err *error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fsrDisableTimeout)
	defer cancel()
	derr := r.disableFSR(dctx, mb, snap, zone)
	switch {
	case derr == nil:
	case *err == nil:
		*err = derr
	default:
		*err = fmt.Errorf("%w; and %v", *err, derr)
	}
}

// mismatch lists how an existing volume differs from the parameters, one
// "field: found X, expected Y" each: zone, type, size (smaller), encryption,
// IOPS and throughput when the parameters set them, and the KMS key when
// the spec names one by key id or key ARN (an alias cannot be compared
// without KMS, and without a spec key EC2 chose it).
func mismatch(v types.Volume, p VolumeParams, specKey string) []string {
	var why []string
	diff := func(field string, found, expected any) {
		why = append(why, fmt.Sprintf("%s: found %v, expected %v", field, found, expected))
	}
	if z := aws.ToString(v.AvailabilityZone); z != p.Zone {
		diff("zone", z, p.Zone)
	}
	if t := string(v.VolumeType); t != p.Type {
		diff("type", t, p.Type)
	}
	if s := aws.ToInt32(v.Size); s < p.SizeGiB {
		diff("sizeGiB", s, fmt.Sprintf("at least %d", p.SizeGiB))
	}
	if p.Encrypted && !aws.ToBool(v.Encrypted) {
		diff("encrypted", false, true)
	}
	if i := aws.ToInt32(v.Iops); p.IOPS > 0 && i != p.IOPS {
		diff("iops", i, p.IOPS)
	}
	if t := aws.ToInt32(v.Throughput); p.Throughput > 0 && t != p.Throughput {
		diff("throughput", t, p.Throughput)
	}
	if k := aws.ToString(v.KmsKeyId); specKey != "" && !parseKMSRef(specKey).alias && !SameKMSKey(k, specKey) {
		if k == "" {
			k = "none"
		}
		diff("kmsKeyId", k, specKey)
	}
	return why
}

// createVolume creates the volume with a deterministic ClientToken. After
// IdempotentParameterMismatch (the token was used before with other
// parameters: the spec changed after an interrupted run whose volume was
// since deleted) it bumps the token, as the EBS CSI driver does.
func (r *cloneRun) createVolume(ctx context.Context, mb Member, d Device, p VolumeParams, snap string) (string, error) {
	e := r.e
	base := strings.Join([]string{e.m.Metadata.Name, mb.Key(), d.ClaimTemplate, RoleVolume}, "|")
	in := r.createVolumeInput(mb, d, p, snap)
	e.opts.Progress.Update(mb.Key(), "creating volume", 0)
	for gen := 0; gen < 5; gen++ {
		in.ClientToken = aws.String(clientToken(base, gen))
		res, err := e.dst.CreateVolume(ctx, in)
		if errorCode(err) == "IdempotentParameterMismatch" {
			e.log.Warn("CreateVolume: ClientToken was used before with other parameters; retrying with a new token", "member", mb.Key(), "claimTemplate", d.ClaimTemplate, "generation", gen+1)
			continue
		}
		if err != nil {
			return "", createError("CreateVolume", mb, snap, err)
		}
		r.count(RoleVolume)
		return aws.ToString(res.VolumeId), nil
	}
	return "", fmt.Errorf("CreateVolume for %s %s: IdempotentParameterMismatch after 5 tokens", mb.Key(), d.ClaimTemplate)
}

func (r *cloneRun) createVolumeInput(mb Member, d Device, p VolumeParams, snap string) *ec2.CreateVolumeInput {
	e := r.e
	in := &ec2.CreateVolumeInput{
		AvailabilityZone: aws.String(p.Zone),
		SnapshotId:       aws.String(snap),
		Size:             aws.Int32(p.SizeGiB),
		VolumeType:       types.VolumeType(p.Type),
		TagSpecifications: e.tagSpec(types.ResourceTypeVolume, map[string]string{
			TagMember: mb.Key(), TagRole: RoleVolume, TagPhase: r.opts.Phase, TagSourceInstance: mb.Instance,
			TagSourceVolume: d.VolumeID, TagClaimTemplate: d.ClaimTemplate,
		}),
	}
	if p.IOPS > 0 {
		in.Iops = aws.Int32(p.IOPS)
	}
	if p.Throughput > 0 {
		in.Throughput = aws.Int32(p.Throughput)
	}
	if p.Encrypted {
		in.Encrypted = aws.Bool(true)
	}
	if p.KMSKeyID != "" && e.m.Spec.Target.Volume.KMSKeyID != "" {
		in.KmsKeyId = aws.String(p.KMSKeyID)
	}
	if p.InitRateMiBps > 0 {
		in.VolumeInitializationRate = aws.Int32(p.InitRateMiBps)
	}
	return in
}

// enableFSR enables Fast Snapshot Restore for the snapshot in the zone and
// waits until it is enabled. enabled reports whether EC2 accepted the
// request, even when the wait then failed: FSR must then be disabled again.
func (r *cloneRun) enableFSR(ctx context.Context, mb Member, snap, zone string) (enabled bool, _ error) {
	e := r.e
	key := watchKey{kind: watchFSR, id: snap, zone: zone}
	// A failed run disables FSR on its way out; EC2 does not enable it
	// again until that has finished, so a quick re-run waits for it.
	states, err := describeFSR(ctx, e.dst, []string{snap})
	if err != nil {
		return false, fmt.Errorf("DescribeFastSnapshotRestores %s: %w", snap, err)
	}
	if states[snap+" "+zone].state == string(types.FastSnapshotRestoreStateCodeDisabling) {
		e.opts.Progress.Update(mb.Key(), "fast restore disabling", 0)
		err := r.dstPol.wait(ctx, key, e.opts.FSRTimeout, func(st status) (bool, error) {
			return st.err == nil && (!st.found || st.state == string(types.FastSnapshotRestoreStateCodeDisabled)), nil
		})
		if err != nil {
			return false, err
		}
	}
	e.opts.Progress.Update(mb.Key(), "enabling fast restore", 0)
	res, err := e.dst.EnableFastSnapshotRestores(ctx, &ec2.EnableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{zone}})
	if err != nil {
		return false, createError("EnableFastSnapshotRestores", mb, snap, err)
	}
	for _, u := range res.Unsuccessful {
		for _, fe := range u.FastSnapshotRestoreStateErrors {
			if fe.Error != nil {
				return false, fmt.Errorf("EnableFastSnapshotRestores on %s in %s for %s: %s: %s", snap, aws.ToString(fe.AvailabilityZone), mb.Key(), aws.ToString(fe.Error.Code), aws.ToString(fe.Error.Message))
			}
		}
	}
	r.count("fast-snapshot-restore")
	return true, r.dstPol.wait(ctx, key, e.opts.FSRTimeout, func(st status) (bool, error) {
		switch {
		case st.err != nil:
			return false, nil
		case st.state == string(types.FastSnapshotRestoreStateCodeEnabled):
			return true, nil
		case st.found && (st.state == string(types.FastSnapshotRestoreStateCodeDisabled) || st.state == string(types.FastSnapshotRestoreStateCodeDisabling)):
			return false, fmt.Errorf("fast snapshot restore of %s in %s for %s went to %s: %s", snap, zone, mb.Key(), st.state, st.message)
		}
		e.opts.Progress.Update(mb.Key(), "fast restore "+st.state, 0)
		return false, nil
	})
}

// disableFSR turns Fast Snapshot Restore off again (it is billed per hour)
// if it is on; a re-run after a crash finds it on and turns it off.
func (r *cloneRun) disableFSR(ctx context.Context, mb Member, snap, zone string) error {
	e := r.e
	states, err := describeFSR(ctx, e.dst, []string{snap})
	if err != nil {
		return fmt.Errorf("DescribeFastSnapshotRestores %s: %w", snap, err)
	}
	st, ok := states[snap+" "+zone]
	if !ok || st.state == string(types.FastSnapshotRestoreStateCodeDisabled) || st.state == string(types.FastSnapshotRestoreStateCodeDisabling) {
		return nil
	}
	if _, err := e.dst.DisableFastSnapshotRestores(ctx, &ec2.DisableFastSnapshotRestoresInput{SourceSnapshotIds: []string{snap}, AvailabilityZones: []string{zone}}); err != nil {
		return fmt.Errorf("DisableFastSnapshotRestores on %s in %s for %s (it stays enabled and billed until disabled; re-run graft clone): %w", snap, zone, mb.Key(), err)
	}
	return nil
}

// hook runs spec.hooks.beforeFinal for the member's instance and logs its
// output.
func (r *cloneRun) hook(ctx context.Context, mb Member) error {
	e := r.e
	repl := strings.NewReplacer("{instance}", mb.Instance, "{privateIp}", mb.PrivateIP, "{statefulset}", mb.StatefulSet, "{ordinal}", strconv.Itoa(mb.Ordinal))
	argv := make([]string, len(e.m.Spec.Hooks.BeforeFinal))
	for i, a := range e.m.Spec.Hooks.BeforeFinal {
		argv[i] = repl.Replace(a)
	}
	hctx, cancel := context.WithTimeout(ctx, e.opts.HookTimeout)
	defer cancel()
	run := r.opts.RunHook
	if run == nil {
		run = func(ctx context.Context, argv []string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.Bytes(), err
		}
	}
	e.log.Info("running beforeFinal hook", "member", mb.Key(), "instance", mb.Instance, "argv", argv)
	out, err := run(hctx, argv)
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			e.log.Info("hook output", "member", mb.Key(), "line", line)
		}
	}
	if err != nil {
		return fmt.Errorf("beforeFinal hook %q for %s (%s) failed: %w; no final snapshot was taken of this member", strings.Join(argv, " "), mb.Key(), mb.Instance, err)
	}
	return nil
}

// preflight proves, with EC2 DryRun, each kind of mutating call the phase
// will make, before anything is created: missing permissions, an unusable
// KMS key or a wrong zone stop the run here.
func (e *Engine) preflight(ctx context.Context, inv *Inventory, x *existing, phase string) error {
	checks := e.dryRunChecks(inv, x, phase)
	var fails []string
	for _, c := range checks {
		err := c.call(ctx)
		switch code := errorCode(err); {
		case code == "DryRunOperation":
			e.log.Debug("dry run ok", "call", c.what)
		case err == nil:
			fails = append(fails, fmt.Sprintf("%s: EC2 ignored DryRun and answered without error; not proven", c.what))
		default:
			fails = append(fails, fmt.Sprintf("%s: %s", c.what, dryRunHint(err)))
		}
	}
	if len(fails) > 0 {
		sort.Strings(fails)
		return fmt.Errorf("%w (nothing was created):\n  - %s", ErrDryRun, strings.Join(fails, "\n  - "))
	}
	return nil
}

// DryRun runs only the DryRun checks and reports what they proved.
func (e *Engine) DryRun(ctx context.Context, inv *Inventory, phase string) ([]string, error) {
	x, err := e.lookup(ctx)
	if err != nil {
		return nil, err
	}
	var proved []string
	for _, c := range e.dryRunChecks(inv, x, phase) {
		proved = append(proved, c.what)
	}
	if err := e.preflight(ctx, inv, x, phase); err != nil {
		return nil, err
	}
	return proved, nil
}

func dryRunHint(err error) string {
	code := errorCode(err)
	msg := err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorMessage()
	}
	switch {
	case strings.Contains(code, "KMS") || strings.Contains(code, "Kms") || strings.Contains(strings.ToLower(msg), "kms"):
		return fmt.Sprintf("%s: %s (check spec.target.volume.kmsKeyId: the key must exist in the target region, be enabled, and its policy must let this principal use it through EC2)", code, msg)
	case code == "UnauthorizedOperation" || code == "AccessDenied":
		return fmt.Sprintf("%s: %s (see graft iam-policy)", code, msg)
	case code != "":
		return code + ": " + msg
	}
	return msg
}

type dryRunCheck struct {
	what string
	call func(ctx context.Context) error
}

func (e *Engine) dryRunChecks(inv *Inventory, x *existing, phase string) []dryRunCheck {
	var checks []dryRunCheck
	if len(inv.Members) == 0 {
		return nil
	}
	r := &cloneRun{e: e, inv: inv, x: x, opts: CloneOptions{Phase: phase}}
	mb := inv.Members[0]
	tags := map[string]string{TagMember: mb.Key(), TagRole: RoleSnapshot, TagPhase: phase, TagSourceInstance: mb.Instance}
	if len(mb.Devices) > 1 {
		checks = append(checks, dryRunCheck{"CreateSnapshots on " + mb.Instance, func(ctx context.Context) error {
			in := r.createSnapshotsInput(mb, tags, "graft dry run")
			in.DryRun = aws.Bool(true)
			_, err := e.src.CreateSnapshots(ctx, in)
			return err
		}})
	}
	d := mb.Devices[0]
	checks = append(checks, dryRunCheck{"CreateSnapshot of " + d.VolumeID, func(ctx context.Context) error {
		_, err := e.src.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(d.VolumeID), DryRun: aws.Bool(true),
			TagSpecifications: e.tagSpec(types.ResourceTypeSnapshot, tags)})
		return err
	}})
	// CopySnapshot needs a snapshot to name: prove it when one exists.
	for _, mb := range inv.Members {
		d := mb.Devices[0]
		if !e.needsCopy(d) {
			break
		}
		s, ok := x.snap(snapKey(RoleSnapshot, mb.Key(), spec.PhasePrecopy, d.VolumeID))
		if !ok {
			s, ok = x.snap(snapKey(RoleSnapshot, mb.Key(), spec.PhaseFinal, d.VolumeID))
		}
		if !ok || s.State != types.SnapshotStateCompleted {
			continue
		}
		checks = append(checks, dryRunCheck{"CopySnapshot of " + aws.ToString(s.SnapshotId) + " to " + e.m.Spec.Target.Region, func(ctx context.Context) error {
			in := &ec2.CopySnapshotInput{SourceRegion: aws.String(e.m.Spec.Source.Region), SourceSnapshotId: s.SnapshotId, DryRun: aws.Bool(true), Encrypted: aws.Bool(true)}
			if k := e.m.Spec.Target.Volume.KMSKeyID; k != "" {
				in.KmsKeyId = aws.String(k)
			}
			_, err := e.dst.CopySnapshot(ctx, in)
			return err
		}})
		break
	}
	if phase != spec.PhaseFinal {
		return checks
	}
	// CreateVolume in every target zone, with the parameters (and KMS key)
	// it will use; without a snapshot, which may not exist yet.
	seen := map[string]bool{}
	for _, mb := range inv.Members {
		for _, d := range mb.Devices {
			p := volumeParams(&e.m.Spec, mb, d)
			key := fmt.Sprintf("%s %s %d %d %s", p.Zone, p.Type, p.IOPS, p.Throughput, p.KMSKeyID)
			if seen[key] {
				continue
			}
			seen[key] = true
			in := r.createVolumeInput(mb, d, p, "")
			in.SnapshotId = nil
			in.VolumeInitializationRate = nil
			in.DryRun = aws.Bool(true)
			what := fmt.Sprintf("CreateVolume %s in %s", p.Type, p.Zone)
			if in.KmsKeyId != nil {
				what += " with KMS key " + aws.ToString(in.KmsKeyId)
			}
			checks = append(checks, dryRunCheck{what, func(ctx context.Context) error {
				_, err := e.dst.CreateVolume(ctx, in)
				return err
			}})
		}
	}
	return checks
}
