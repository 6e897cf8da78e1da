package ebs

import (
	"cmp"
	"errors"
	"log/slog"
	"time"

	"github.com/graftctl/graft/generator/spec"
)

// ErrInput is wrapped by errors caused by the spec, the account's contents
// or the user's choices rather than by a failure of EC2 or the machine.
var ErrInput = errors.New("invalid input")

// ErrUnreachable is wrapped when EC2 cannot be reached at all: no answer,
// not even an error status (a wrong region's endpoint does not resolve, a
// proxy or a VPC endpoint is missing, AWS_ENDPOINT_URL_EC2 points nowhere).
var ErrUnreachable = errors.New("cannot reach EC2")

// Options configure an Engine.
type Options struct {
	// Source is the EC2 client of the source region.
	Source EC2
	// Target is the EC2 client of the target region; nil means Source
	// (the regions are the same). With spec.target.account it is the
	// target account's client, and required.
	Target EC2
	// SourceKMS and TargetKMS are the KMS clients of the source and target
	// accounts (their regions), for the checks of a cross-account
	// migration's keys (xaccount_kms.go); nil skips that side's checks.
	SourceKMS, TargetKMS KMS
	// Clock drives every wait, poll and rate limit (default WallClock).
	Clock Clock
	// Limits of the client-side token buckets (default DefaultLimits).
	Limits *Limits
	// Log receives status lines (default: discarded).
	Log *slog.Logger

	// PollInterval between two poll rounds (default 15s).
	PollInterval time.Duration
	// SnapshotTimeout bounds the wait for one snapshot or copy to
	// complete (default 24h).
	SnapshotTimeout time.Duration
	// VolumeTimeout bounds the wait for a volume to become available
	// (default 30m).
	VolumeTimeout time.Duration
	// FSRTimeout bounds the wait for Fast Snapshot Restore to be enabled
	// (default 4h).
	FSRTimeout time.Duration
	// HookTimeout bounds one run of the beforeFinal hook (default 30m).
	HookTimeout time.Duration
	// Progress reports per-member progress (default: log lines).
	Progress Progress
	// Concurrency bounds the members worked on at once (default: all).
	Concurrency int
}

// Engine runs graft's EBS stages for one migration.
type Engine struct {
	m      *spec.Migration
	opts   Options
	src    *api
	dst    *api
	stats  *Stats
	log    *slog.Logger
	clock  Clock
	limits Limits
	// xkeys is what the cross-account key checks found, by the source
	// volumes' key (checkShareKeys); nil without spec.target.account.
	xkeys map[string]shareKey
}

// New returns an engine for the migration.
func New(m *spec.Migration, opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = WallClock{}
	}
	limits := DefaultLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.PollInterval = cmp.Or(opts.PollInterval, 15*time.Second)
	opts.SnapshotTimeout = cmp.Or(opts.SnapshotTimeout, 24*time.Hour)
	opts.VolumeTimeout = cmp.Or(opts.VolumeTimeout, 30*time.Minute)
	opts.FSRTimeout = cmp.Or(opts.FSRTimeout, 4*time.Hour)
	opts.HookTimeout = cmp.Or(opts.HookTimeout, 30*time.Minute)
	stats := newStats()
	e := &Engine{m: m, opts: opts, stats: stats, log: opts.Log, clock: opts.Clock, limits: limits}
	mut, desc := newLimiters(limits)
	e.src = newAPI(opts.Source, opts.Clock, limits, stats, mut, desc)
	if opts.Target == nil || (m.Spec.Target.Region == m.Spec.Source.Region && !m.Spec.Target.CrossAccount()) {
		e.dst = e.src
	} else {
		// EC2's buckets are per account and region: the target has its own.
		tm, td := newLimiters(limits)
		e.dst = newAPI(opts.Target, opts.Clock, limits, stats, tm, td)
	}
	if opts.Progress == nil {
		e.opts.Progress = NewLogProgress(opts.Log)
	}
	return e
}

// SetProgress replaces the progress reporter (before Clone).
func (e *Engine) SetProgress(p Progress) { e.opts.Progress = p }

// Stats returns the engine's call counts.
func (e *Engine) Stats() *Stats { return e.stats }

// readOnly returns a copy of the engine whose EC2 clients refuse every
// mutating call (it shares their token buckets and Stats). The stages that
// promise to change nothing run on it.
func (e *Engine) readOnly() *Engine {
	ro := *e
	ro.src = e.src.readOnlyView()
	ro.dst = ro.src
	if e.dst != e.src {
		ro.dst = e.dst.readOnlyView()
	}
	return &ro
}

func (e *Engine) crossRegion() bool { return e.m.Spec.Target.Region != e.m.Spec.Source.Region }

// crossAccount reports whether the target is another AWS account
// (spec.target.account).
func (e *Engine) crossAccount() bool { return e.m.Spec.Target.CrossAccount() }
