package ec2sim

import (
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Call is one entry of the audit log.
type Call struct {
	Seq      int       // 1-based position in the log
	Op       string    // e.g. "CreateVolume"
	At       time.Time // virtual time EC2 saw the call
	Mutating bool      // the operation is a mutating one
	DryRun   bool
	// Mutated: the call changed EC2 state (false for DryRun, errors before
	// the change, and idempotent ClientToken replays).
	Mutated   bool
	Throttled bool // RequestLimitExceeded, from a bucket or injected
	Injected  bool // an injected fault fired
	// Reads are the ids the call only reads (the volume a snapshot is taken
	// of, the instance of CreateSnapshots and its volumes, the snapshot a
	// volume or copy is made from, ids given to Describe*).
	Reads []string
	// Writes are the ids the call creates, changes or deletes (the new
	// snapshot or volume; the target of a delete; the snapshots of an FSR
	// change). Set from the input even when the call fails.
	Writes []string
	Code   string // EC2 error code, "Crash", or "" on success
	Err    string
}

// Calls returns a copy of the audit log.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.audit...)
}

// ResetAudit clears the audit log and the counters (not the state).
func (s *Sim) ResetAudit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit, s.throttled, s.injected = nil, 0, 0
}

// MutatingCallsOn returns every call of a mutating operation (successful or
// not, DryRun included) that names one of ids as a write target. For source
// volumes and instances it must stay empty: snapshotting a volume only reads
// it.
func (s *Sim) MutatingCallsOn(ids ...string) []Call {
	want := set(ids)
	var out []Call
	for _, c := range s.Calls() {
		if !c.Mutating {
			continue
		}
		for _, id := range c.Writes {
			if want[id] {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// CallsOn returns every call that read or wrote one of ids.
func (s *Sim) CallsOn(ids ...string) []Call {
	want := set(ids)
	var out []Call
	for _, c := range s.Calls() {
		for _, id := range append(append([]string(nil), c.Reads...), c.Writes...) {
			if want[id] {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func set(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// Stats summarises the audit log.
type Stats struct {
	Calls             map[string]int // per operation, every attempt
	Errors            map[string]int // per error code
	BucketThrottles   int            // RequestLimitExceeded from the token buckets
	InjectedThrottles int            // RequestLimitExceeded from Throttle
	Mutations         int            // calls that changed state
	Elapsed           time.Duration  // virtual time since the clock started
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	st := Stats{Calls: map[string]int{}, Errors: map[string]int{}, BucketThrottles: s.throttled,
		InjectedThrottles: s.injected, Mutations: s.mutations}
	for _, c := range s.audit {
		st.Calls[c.Op]++
		if c.Code != "" {
			st.Errors[c.Code]++
		}
	}
	s.mu.Unlock()
	st.Elapsed = s.clock.Elapsed()
	return st
}

// Count returns how many calls of op were made.
func (s *Sim) Count(op string) int { return s.Stats().Calls[op] }

// Throttles returns how many calls got RequestLimitExceeded.
func (s *Sim) Throttles() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled + s.injected
}

// Mutations returns how many calls to this simulator changed state so far
// (what CrashAfter counts, for a simulator without linked ones; see
// ProcessMutations).
func (s *Sim) Mutations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mutations
}

// ProcessMutations returns how many calls changed state in this simulator
// and every linked one (NewRegion, NewAccount): what CrashAfter counts.
func (s *Sim) ProcessMutations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.mutations
}

// Snapshots returns every existing snapshot as DescribeSnapshots shows it.
func (s *Sim) Snapshots() []types.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	return describeAll(s.snapshots, func(sn *snapshot) types.Snapshot { return s.describeSnapshot(sn, now) })
}

// Volumes returns every existing volume as DescribeVolumes shows it.
func (s *Sim) Volumes() []types.Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	return describeAll(s.volumes, s.describeVolume)
}

// Instances returns every instance as DescribeInstances shows it.
func (s *Sim) Instances() []types.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return describeAll(s.instances, s.describeInstance)
}

// Created returns the ids of the existing snapshots and volumes that were
// created through the API (not seeded), in creation order.
func (s *Sim) Created() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type item struct {
		id  string
		seq int
	}
	var items []item
	for id := range s.created {
		if sn := s.snapshots[id]; sn != nil {
			items = append(items, item{id, sn.seq})
		} else if v := s.volumes[id]; v != nil {
			items = append(items, item{id, v.seq})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.id
	}
	return out
}

// Leaked returns the ids from Created that are not in referenced: what a
// run left behind that its record does not account for.
func (s *Sim) Leaked(referenced ...string) []string {
	ref := set(referenced)
	var out []string
	for _, id := range s.Created() {
		if !ref[id] {
			out = append(out, id)
		}
	}
	return out
}

// Duplicates groups the existing API-created snapshots and volumes by their
// kind (for a snapshot: also its VolumeId, so the crash-consistent
// snapshots of one CreateSnapshots call, tagged alike, are not duplicates
// of each other; copies all have vol-ffffffff) and the values of tagKeys
// (resources lacking one of the keys are skipped), and returns the groups
// with more than one member, e.g. Duplicates("graft:member", "graft:phase")
// after a resumed run: one snapshot per source volume and phase.
func (s *Sim) Duplicates(tagKeys ...string) [][]string {
	created := s.Created()
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := map[string][]string{}
	var order []string
	for _, id := range created {
		var tags map[string]string
		kind := "volume"
		if sn := s.snapshots[id]; sn != nil {
			tags, kind = sn.tags, "snapshot of "+sn.volumeID
		} else if v := s.volumes[id]; v != nil {
			tags = v.tags
		} else {
			continue
		}
		key := []string{kind}
		ok := true
		for _, k := range tagKeys {
			v, has := tags[k]
			if !has {
				ok = false
				break
			}
			key = append(key, v)
		}
		if !ok {
			continue
		}
		g := strings.Join(key, "\x00")
		if _, seen := groups[g]; !seen {
			order = append(order, g)
		}
		groups[g] = append(groups[g], id)
	}
	var out [][]string
	for _, g := range order {
		if len(groups[g]) > 1 {
			out = append(out, groups[g])
		}
	}
	return out
}
