package ec2sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/graftctl/graft/generator/snaptime"
)

// ErrCrash is returned by every call once a crash point fired: the call that
// fired it was applied (the request reached EC2) but its response is lost,
// and the process is considered dead until Revive.
var ErrCrash = errors.New("ec2sim: simulated crash: the process died after the request reached EC2")

// Operation names, as in the EC2 API and in the audit log.
const (
	OpDescribeAvailabilityZones    = "DescribeAvailabilityZones"
	OpDescribeInstances            = "DescribeInstances"
	OpDescribeVolumes              = "DescribeVolumes"
	OpDescribeSnapshots            = "DescribeSnapshots"
	OpDescribeFastSnapshotRestores = "DescribeFastSnapshotRestores"
	OpCreateSnapshot               = "CreateSnapshot"
	OpCreateSnapshots              = "CreateSnapshots"
	OpCopySnapshot                 = "CopySnapshot"
	OpCreateVolume                 = "CreateVolume"
	OpEnableFastSnapshotRestores   = "EnableFastSnapshotRestores"
	OpDisableFastSnapshotRestores  = "DisableFastSnapshotRestores"
	OpDeleteSnapshot               = "DeleteSnapshot"
	OpDeleteVolume                 = "DeleteVolume"
	OpCreateTags                   = "CreateTags"
)

var mutatingOps = map[string]bool{
	OpCreateSnapshot: true, OpCreateSnapshots: true, OpCopySnapshot: true, OpCreateVolume: true,
	OpEnableFastSnapshotRestores: true, OpDisableFastSnapshotRestores: true,
	OpDeleteSnapshot: true, OpDeleteVolume: true, OpCreateTags: true,
}

// RateLimits are EC2's request token buckets, refilled on the virtual clock.
// Zero fields take EC2's defaults (mutating: burst 100, 5/s; non-mutating
// Describe: burst 100, 20/s).
type RateLimits struct {
	MutatingBurst, MutatingRefill float64
	DescribeBurst, DescribeRefill float64
	// Off disables rate limiting.
	Off bool
}

// SnapInfo describes a snapshot being created, for SnapshotDuration.
type SnapInfo struct {
	VolumeID    string
	SizeGiB     int32
	Incremental bool // an earlier snapshot of the same volume exists
	Copy        bool // made by CopySnapshot
	CrossRegion bool
}

// DefaultSnapshotDuration is graft's snapshot-time model (package
// snaptime): full 2 min + 6 s/GiB (1 TiB ≈ 1.8 h); incremental 1 min +
// 0.3 s/GiB; copy 1 min + 3 s/GiB (cross-region twice that).
func DefaultSnapshotDuration(i SnapInfo) time.Duration {
	return snaptime.Duration(snaptime.Work{SizeGiB: i.SizeGiB, Incremental: i.Incremental, Copy: i.Copy, CrossRegion: i.CrossRegion})
}

// Options configure a Sim. The zero value is a usable us-east-1 simulator.
type Options struct {
	Region    string   // default "us-east-1"
	Zones     []string // default <region>a, <region>b, <region>c
	AccountID string   // default "123456789012"
	Seed      uint64   // PRNG seed for ids and injected throttling; default 1
	// Clock to run on; default NewClock(Start, IdleWindow) (auto-advance).
	Clock *Clock
	// ManualClock makes the default clock a manual one.
	ManualClock bool
	Start       time.Time     // default 2026-01-01T00:00:00Z
	IdleWindow  time.Duration // default DefaultIdleWindow
	Limits      RateLimits
	// SnapshotDuration is how long a snapshot stays pending; default
	// DefaultSnapshotDuration.
	SnapshotDuration func(SnapInfo) time.Duration
	// VolumeCreateDuration is how long a new volume stays "creating";
	// default 5 s.
	VolumeCreateDuration time.Duration
	// FSREnabling and FSRDisabling: default 1 min each. FSROptimizingPerTiB:
	// default 60 min per TiB of snapshot (at least 1 min).
	FSREnabling, FSRDisabling, FSROptimizingPerTiB time.Duration
	// FSRSnapshotLimit caps how many snapshots may have FSR enabled at once
	// (EC2's default quota is 5 per region); 0 = no cap.
	FSRSnapshotLimit int
	// SnapshotRatePerVolume, if > 0, is the minimum interval between two
	// CreateSnapshot(s) of one volume (SnapshotCreationPerVolumeRateExceeded).
	SnapshotRatePerVolume time.Duration
	// ListLag models EC2's eventual consistency: a volume or snapshot
	// created less than ListLag ago is left out of DescribeVolumes and
	// DescribeSnapshots listings (calls without ids); by id it is found.
	ListLag time.Duration
}

// Sim is an in-process EC2 (EBS subset) on a virtual clock. All methods are
// safe for concurrent use.
type Sim struct {
	mu    *sync.Mutex // shared with peer regions
	opt   Options
	clock *Clock
	rng   *rand.Rand // ids
	frng  *rand.Rand // faults
	peers map[string]*Sim

	seq       int
	zones     []zone
	instances map[string]*instance
	volumes   map[string]*volume
	snapshots map[string]*snapshot
	fsr       map[fsrKey]*fsrState
	tokens    map[string]tokenEntry
	lastSnap  map[string]time.Time // volume -> last CreateSnapshot(s)
	ids       map[string]bool      // every id ever issued
	created   map[string]bool      // ids created through the API

	mutBucket, descBucket bucket

	audit     []Call
	mutations int
	throttled int
	injected  int

	faults       []*faultRule
	throttleP    float64
	throttleOps  map[string]bool
	latency      func(op string) time.Duration
	w            *world // shared with linked regions and accounts
	denyOps      map[string]bool
	denyKeys     map[string]bool
	snapFate     map[string]fateRule // volume id -> fate of its future snapshots
	volCreateDur time.Duration
	onCall       func(ctx context.Context, op string, mutating bool)
}

type zone struct{ name, id string }

// New returns a simulator.
func New(o Options) *Sim {
	o.Region = cmp.Or(o.Region, "us-east-1")
	if len(o.Zones) == 0 {
		o.Zones = []string{o.Region + "a", o.Region + "b", o.Region + "c"}
	}
	o.AccountID = cmp.Or(o.AccountID, "123456789012")
	o.Seed = cmp.Or(o.Seed, 1)
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Clock == nil {
		if o.ManualClock {
			o.Clock = NewManualClock(o.Start)
		} else {
			o.Clock = NewClock(o.Start, o.IdleWindow)
		}
	}
	l := &o.Limits
	l.MutatingBurst = cmp.Or(l.MutatingBurst, 100)
	l.MutatingRefill = cmp.Or(l.MutatingRefill, 5)
	l.DescribeBurst = cmp.Or(l.DescribeBurst, 100)
	l.DescribeRefill = cmp.Or(l.DescribeRefill, 20)
	if o.SnapshotDuration == nil {
		o.SnapshotDuration = DefaultSnapshotDuration
	}
	o.VolumeCreateDuration = cmp.Or(o.VolumeCreateDuration, 5*time.Second)
	o.FSREnabling = cmp.Or(o.FSREnabling, time.Minute)
	o.FSRDisabling = cmp.Or(o.FSRDisabling, time.Minute)
	o.FSROptimizingPerTiB = cmp.Or(o.FSROptimizingPerTiB, time.Hour)
	s := &Sim{
		mu:        &sync.Mutex{},
		opt:       o,
		clock:     o.Clock,
		rng:       rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15)),
		frng:      rand.New(rand.NewPCG(o.Seed, 0x2545f4914f6cdd1d)),
		peers:     map[string]*Sim{},
		instances: map[string]*instance{},
		volumes:   map[string]*volume{},
		snapshots: map[string]*snapshot{},
		fsr:       map[fsrKey]*fsrState{},
		tokens:    map[string]tokenEntry{},
		lastSnap:  map[string]time.Time{},
		ids:       map[string]bool{},
		created:   map[string]bool{},
		denyOps:   map[string]bool{},
		denyKeys:  map[string]bool{},
		snapFate:  map[string]fateRule{},
	}
	s.mutBucket = bucket{cap: l.MutatingBurst, rate: l.MutatingRefill, tokens: l.MutatingBurst, last: o.Start}
	s.descBucket = bucket{cap: l.DescribeBurst, rate: l.DescribeRefill, tokens: l.DescribeBurst, last: o.Start}
	prefix := regionPrefix(o.Region)
	for i, z := range o.Zones {
		s.zones = append(s.zones, zone{name: z, id: fmt.Sprintf("%s-az%d", prefix, i+1)})
	}
	s.peers[o.Region] = s
	s.w = &world{keys: map[string]*kmsKey{}, sims: []*Sim{s}}
	s.clock.addSource(s.nextEvent)
	return s
}

// NewRegion returns a simulator of another region of the same account, on
// the same clock, linked to s (and its other regions) so that CopySnapshot
// with SourceRegion reads snapshots across them. zones default to
// <region>a..c.
func (s *Sim) NewRegion(region string, zones ...string) *Sim {
	o := s.opt
	o.Region, o.Zones = region, zones
	o.Seed = s.opt.Seed + uint64(len(s.peers))*7919
	return s.linked(o, func(p *Sim) {
		for _, q := range s.peers {
			q.peers[region] = p
			p.peers[q.opt.Region] = q
		}
	})
}

// linked makes the simulator of o and links it into s's world: one lock,
// one clock, the accounts' keys and every linked simulator (for the crash
// point and the audits); link, if set, runs under the lock too.
func (s *Sim) linked(o Options, link func(p *Sim)) *Sim {
	p := New(o)
	p.mu = s.mu
	s.mu.Lock()
	defer s.mu.Unlock()
	p.w = s.w
	s.w.sims = append(s.w.sims, p)
	if link != nil {
		link(p)
	}
	return p
}

func regionPrefix(r string) string {
	// us-east-1 -> use1, eu-west-2 -> euw2
	out := []byte{}
	parts := []string{}
	cur := ""
	for _, ch := range r {
		if ch == '-' {
			parts = append(parts, cur)
			cur = ""
			continue
		}
		cur += string(ch)
	}
	parts = append(parts, cur)
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i == 0 {
			out = append(out, p...)
		} else if i == len(parts)-1 {
			out = append(out, p...)
		} else {
			out = append(out, p[0])
		}
	}
	return string(out)
}

// Clock returns the simulator's clock (an ebs.Clock).
func (s *Sim) Clock() *Clock { return s.clock }

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.clock.Now() }

// Elapsed returns the virtual time since the clock started.
func (s *Sim) Elapsed() time.Duration { return s.clock.Elapsed() }

// Region returns the simulator's region.
func (s *Sim) Region() string { return s.opt.Region }

// Zones returns the zone names of the region.
func (s *Sim) Zones() []string {
	out := make([]string, len(s.zones))
	for i, z := range s.zones {
		out[i] = z.name
	}
	return out
}

// AccountID returns the simulated account.
func (s *Sim) AccountID() string { return s.opt.AccountID }

// OnCall sets a callback run before every API call, outside the
// simulator's lock and before the call touches the clock, with the
// caller's context, the operation and whether it is a mutating one. A test
// blocks a caller in it to force an interleaving of several clients on one
// simulated EC2 (two "machines" running graft at once: tell them apart by
// a context value), or counts calls. nil removes it.
func (s *Sim) OnCall(f func(ctx context.Context, op string, mutating bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCall = f
}

// lagging reports whether a resource created at t is still hidden from
// listings at now (Options.ListLag).
func (s *Sim) lagging(t, now time.Time) bool {
	return s.opt.ListLag > 0 && now.Sub(t) < s.opt.ListLag
}

// ---- errors

func apiErr(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

// ErrorCode returns the EC2 error code in err ("" if none).
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if errors.Is(err, ErrCrash) {
		return "Crash"
	}
	return ""
}

// ---- token bucket

type bucket struct {
	cap, rate, tokens float64
	last              time.Time
}

func (b *bucket) take(now time.Time) bool {
	if now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.cap {
			b.tokens = b.cap
		}
		b.last = now
	}
	if b.tokens >= 1-1e-9 { // tolerate float drift against a client bucket in lockstep
		b.tokens--
		return true
	}
	return false
}

// ---- the call wrapper

// call is the in-flight record of one API call.
type call struct {
	Call
	fsrCreditUse bool
}

// run executes one API call: crash check, virtual latency, throttling,
// injected faults, the operation, crash points and the audit record.
func run[O any](s *Sim, ctx context.Context, op string, dryRun *bool, reads, writes []string, fn func(c *call) (*O, error)) (*O, error) {
	s.mu.Lock()
	hook := s.onCall
	s.mu.Unlock()
	if hook != nil {
		hook(ctx, op, mutatingOps[op])
	}
	s.clock.touch()
	defer s.clock.touch()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	lat := time.Duration(0)
	if s.latency != nil {
		lat = s.latency(op)
	}
	s.mu.Unlock()
	if lat > 0 {
		if err := s.clock.Sleep(ctx, lat); err != nil {
			return nil, err
		}
	}
	s.clock.enter()
	defer s.clock.exit()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &call{Call: Call{Op: op, Mutating: mutatingOps[op], DryRun: aws.ToBool(dryRun), At: s.clock.Now(),
		Reads: append([]string(nil), reads...), Writes: append([]string(nil), writes...)}}
	var out *O
	err := s.gate(c)
	if err == nil {
		out, err = fn(c)
		err = s.after(c, err)
	}
	if err != nil {
		c.Code = ErrorCode(err)
		c.Err = err.Error()
		out = nil
		if c.Code != "Crash" {
			err = &smithy.OperationError{ServiceID: "EC2", OperationName: op, Err: err}
		}
	}
	c.Seq = len(s.audit) + 1
	s.audit = append(s.audit, c.Call)
	if c.Mutated {
		s.clock.kick()
	}
	return out, err
}

func (s *Sim) gate(c *call) error {
	if s.w.crashed {
		return ErrCrash
	}
	if s.throttleP > 0 && (len(s.throttleOps) == 0 || s.throttleOps[c.Op]) && s.frng.Float64() < s.throttleP {
		s.injected++
		c.Throttled = true
		return apiErr("RequestLimitExceeded", "Request limit exceeded.")
	}
	if !s.opt.Limits.Off {
		b := &s.descBucket
		if c.Mutating {
			b = &s.mutBucket
		}
		if !b.take(c.At) {
			s.throttled++
			c.Throttled = true
			return apiErr("RequestLimitExceeded", "Request limit exceeded.")
		}
	}
	if f := s.matchFault(c, false); f != nil {
		return apiErr(f.Code, "%s", f.message())
	}
	return nil
}

func (s *Sim) after(c *call, err error) error {
	if err != nil {
		return err
	}
	if c.Mutated {
		s.mutations++
		w := s.w
		w.mutations++
		if (w.crashAt > 0 && w.mutations == w.crashAt) || (w.crashWhen != nil && w.crashWhen(c.Call)) {
			w.crashed = true
			return ErrCrash
		}
	}
	if f := s.matchFault(c, true); f != nil {
		return apiErr(f.Code, "%s", f.message())
	}
	return nil
}

// authorize applies the deny rules (UnauthorizedOperation) and DryRun.
func (s *Sim) authorize(c *call, kmsKeys ...string) error {
	if s.denyOps[c.Op] {
		return apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	for _, k := range kmsKeys {
		if k != "" && s.keyDenied(k) {
			return apiErr("UnauthorizedOperation", "You are not authorized to perform this operation. User is not authorized to use KMS key %s.", k)
		}
	}
	if c.DryRun {
		return apiErr("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

func (s *Sim) keyDenied(k string) bool {
	if s.denyKeys[k] {
		return true
	}
	for d := range s.denyKeys {
		if keyID(d) == keyID(k) {
			return true
		}
	}
	return false
}

func keyID(k string) string {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '/' || k[i] == ':' {
			return k[i+1:]
		}
	}
	return k
}

// ---- ids

func (s *Sim) newID(prefix string) string {
	for {
		id := fmt.Sprintf("%s-0%016x", prefix, s.rng.Uint64())
		if !s.ids[id] {
			s.ids[id] = true
			return id
		}
	}
}

func (s *Sim) nextSeq() int { s.seq++; return s.seq }

// ---- tags

func tagsFromSpecs(specs []types.TagSpecification, rt types.ResourceType) (map[string]string, error) {
	tags := map[string]string{}
	for _, sp := range specs {
		if sp.ResourceType != rt {
			return nil, apiErr("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", sp.ResourceType)
		}
		for _, t := range sp.Tags {
			k, v := aws.ToString(t.Key), aws.ToString(t.Value)
			switch {
			case k == "" || len(k) > 128:
				return nil, apiErr("InvalidParameterValue", "Tag key must be 1 to 128 characters: %q", k)
			case len(v) > 256:
				return nil, apiErr("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
			case len(k) >= 4 && k[:4] == "aws:":
				return nil, apiErr("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
			}
			if _, dup := tags[k]; dup {
				return nil, apiErr("InvalidParameterValue", "The tag key %q is specified more than once", k)
			}
			tags[k] = v
		}
	}
	if len(tags) > 50 {
		return nil, apiErr("TagLimitExceeded", "The maximum number of tags (50) is exceeded")
	}
	return tags, nil
}

func tagList(m map[string]string) []types.Tag {
	if len(m) == 0 {
		return nil
	}
	out := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// copyTags copies a tag map; the copy is never nil, so tags can be added.
func copyTags(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func (s *Sim) zoneByName(name string) (zone, bool) {
	for _, z := range s.zones {
		if z.name == name {
			return z, true
		}
	}
	return zone{}, false
}

func (s *Sim) zoneByID(id string) (zone, bool) {
	for _, z := range s.zones {
		if z.id == id {
			return z, true
		}
	}
	return zone{}, false
}
