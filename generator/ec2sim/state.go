package ec2sim

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type instance struct {
	id, zone, privateIP, instanceType string
	rootDevice                        string
	tags                              map[string]string
	launch                            time.Time
	state                             types.InstanceStateName
	seq                               int
}

type attachment struct {
	instance, device string
	at               time.Time
	deleteOnTerm     bool
}

type volume struct {
	id, zone, snapshotID, kms string
	size, iops, throughput    int32
	initRate                  int32
	vtype                     types.VolumeType
	encrypted, fastRestored   bool
	created, ready            time.Time
	attach                    *attachment
	tags                      map[string]string
	seq                       int
}

func (v *volume) state(now time.Time) types.VolumeState {
	switch {
	case now.Before(v.ready):
		return types.VolumeStateCreating
	case v.attach != nil:
		return types.VolumeStateInUse
	default:
		return types.VolumeStateAvailable
	}
}

type fate int

const (
	fateComplete fate = iota
	fateError
	fateStall
)

type snapshot struct {
	id, volumeID, description, kms string
	size                           int32
	encrypted                      bool
	start                          time.Time
	dur                            time.Duration
	fate                           fate
	message                        string
	forced                         types.SnapshotState
	tags                           map[string]string
	seq                            int
	// sharedWith are the accounts with createVolumePermission.
	sharedWith map[string]bool
}

func (sn *snapshot) state(now time.Time) (types.SnapshotState, int) {
	if sn.forced != "" {
		if sn.forced == types.SnapshotStateCompleted {
			return sn.forced, 100
		}
		return sn.forced, sn.progress(now)
	}
	done := !now.Before(sn.start.Add(sn.dur))
	switch {
	case sn.fate == fateStall:
		p := sn.progress(now)
		if p > 42 {
			p = 42
		}
		return types.SnapshotStatePending, p
	case done && sn.fate == fateError:
		return types.SnapshotStateError, sn.progress(now)
	case done:
		return types.SnapshotStateCompleted, 100
	}
	return types.SnapshotStatePending, sn.progress(now)
}

func (sn *snapshot) progress(now time.Time) int {
	if sn.dur <= 0 {
		return 99
	}
	p := int(100 * now.Sub(sn.start) / sn.dur)
	if p > 99 {
		p = 99
	}
	if p < 0 {
		p = 0
	}
	return p
}

func (s *Sim) describeSnapshot(sn *snapshot, now time.Time) types.Snapshot {
	st, p := sn.state(now)
	out := types.Snapshot{
		SnapshotId:  aws.String(sn.id),
		VolumeId:    aws.String(sn.volumeID),
		VolumeSize:  aws.Int32(sn.size),
		Description: aws.String(sn.description),
		Encrypted:   aws.Bool(sn.encrypted),
		OwnerId:     aws.String(s.opt.AccountID),
		StartTime:   aws.Time(sn.start),
		State:       st,
		Progress:    aws.String(fmt.Sprintf("%d%%", p)),
		StorageTier: types.StorageTierStandard,
		Tags:        tagList(sn.tags),
	}
	if sn.encrypted {
		out.KmsKeyId = aws.String(sn.kms)
	}
	if st == types.SnapshotStateCompleted && sn.forced == "" {
		out.CompletionTime = aws.Time(sn.start.Add(sn.dur))
	}
	if st == types.SnapshotStateError {
		out.StateMessage = aws.String(sn.message)
	}
	return out
}

type fsrKey struct{ snap, zone string }

type fsrState struct {
	enabling, optimizing, enabled time.Time
	disabling, disabled           time.Time // zero unless disable requested
	credits                       bucket
}

func (f *fsrState) state(now time.Time) types.FastSnapshotRestoreStateCode {
	if !f.disabling.IsZero() {
		if now.Before(f.disabled) {
			return types.FastSnapshotRestoreStateCodeDisabling
		}
		return types.FastSnapshotRestoreStateCodeDisabled
	}
	switch {
	case now.Before(f.optimizing):
		return types.FastSnapshotRestoreStateCodeEnabling
	case now.Before(f.enabled):
		return types.FastSnapshotRestoreStateCodeOptimizing
	}
	return types.FastSnapshotRestoreStateCodeEnabled
}

// nextEvent returns the earliest future state change, for the clock.
func (s *Sim) nextEvent() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var next time.Time
	have := false
	consider := func(t time.Time) {
		if t.After(now) && (!have || t.Before(next)) {
			next, have = t, true
		}
	}
	for _, sn := range s.snapshots {
		if sn.forced == "" && sn.fate != fateStall {
			consider(sn.start.Add(sn.dur))
		}
	}
	for _, v := range s.volumes {
		consider(v.ready)
	}
	for _, f := range s.fsr {
		consider(f.optimizing)
		consider(f.enabled)
		consider(f.disabled)
	}
	return next, have
}

// sequenced is a simulator resource with its creation sequence number:
// EC2 lists resources in creation order.
type sequenced interface{ sequence() int }

func (in *instance) sequence() int { return in.seq }
func (v *volume) sequence() int    { return v.seq }
func (sn *snapshot) sequence() int { return sn.seq }

// bySeq orders resources by creation, for slices.SortFunc.
func bySeq[T sequenced](a, b T) int { return cmp.Compare(a.sequence(), b.sequence()) }

// describeAll describes every resource of m, in creation order.
func describeAll[T sequenced, D any](m map[string]T, describe func(T) D) []D {
	list := slices.SortedFunc(maps.Values(m), bySeq[T])
	out := make([]D, len(list))
	for i, x := range list {
		out[i] = describe(x)
	}
	return out
}
