package ec2sim

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Fault injects an EC2 error into matching calls.
type Fault struct {
	// Op limits the fault to one operation ("" = any).
	Op string
	// Match, if set, must also accept the call. Before the operation runs,
	// the Call carries Op, At, DryRun and the input ids (Reads, and Writes
	// for deletes and FSR); with AfterApply it also carries the created ids.
	Match func(Call) bool
	// Nth fires the fault only on the Nth matching call (1-based); 0 fires
	// it on every matching call. With AfterApply, only calls that got past
	// validation and were applied count.
	Nth int
	// Times caps how often the fault fires (0 = no cap).
	Times int
	// Code is the EC2 error code returned, e.g. "InternalError".
	Code    string
	Message string
	// AfterApply applies the operation, then returns the error (a lost
	// response: the resource exists but the caller does not know its id).
	AfterApply bool
}

type faultRule struct {
	Fault
	seen, fired int
}

func (f *faultRule) message() string {
	if f.Message != "" {
		return f.Message
	}
	return fmt.Sprintf("injected fault %s", f.Code)
}

func (s *Sim) matchFault(c *call, after bool) *faultRule {
	for _, f := range s.faults {
		if f.AfterApply != after || (f.Op != "" && f.Op != c.Op) {
			continue
		}
		if f.Match != nil && !f.Match(c.Call) {
			continue
		}
		f.seen++
		if (f.Nth == 0 || f.seen == f.Nth) && (f.Times == 0 || f.fired < f.Times) {
			f.fired++
			c.Injected = true
			return f
		}
	}
	return nil
}

// Inject adds a fault.
func (s *Sim) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f})
}

// FailNth makes the nth call of op fail with code.
func (s *Sim) FailNth(op string, nth int, code string) {
	s.Inject(Fault{Op: op, Nth: nth, Code: code})
}

// ClearFaults removes every injected fault, throttling and latency.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.throttleP, s.throttleOps, s.latency = nil, 0, nil, nil
}

// Throttle makes a fraction p of calls (of ops, or of all operations)
// fail with RequestLimitExceeded before they run, drawn from the seeded
// PRNG. These throttles do not consume bucket tokens.
func (s *Sim) Throttle(p float64, ops ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleP = p
	s.throttleOps = nil
	if len(ops) > 0 {
		s.throttleOps = map[string]bool{}
		for _, op := range ops {
			s.throttleOps[op] = true
		}
	}
}

// SetLatency sets a virtual latency per call: each call sleeps on the
// virtual clock for f(op) before EC2 sees it. nil removes it.
func (s *Sim) SetLatency(f func(op string) time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = f
}

// CrashAfter arms a crash point: the nth call from now that changes state
// is applied, then returns ErrCrash, and so does every later call until
// Revive. n <= 0 disarms it. The crash is the process's: it counts the
// state-changing calls of every linked simulator (NewRegion, NewAccount)
// together, and once it fired all of them fail until Revive.
func (s *Sim) CrashAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		s.w.crashAt = 0
		return
	}
	s.w.crashAt = s.w.mutations + n
}

// CrashWhen arms a crash point on the first state-changing call f accepts
// (it sees the call with its created ids).
func (s *Sim) CrashWhen(f func(Call) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.crashWhen = f
}

// Crashed reports whether a crash point fired.
func (s *Sim) Crashed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.crashed
}

// Revive brings the "process" back after a crash and disarms the crash
// points; EC2's state is kept, as after a real restart.
func (s *Sim) Revive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.crashed, s.w.crashAt, s.w.crashWhen = false, 0, nil
}

// DenyOperation makes op fail with UnauthorizedOperation (also under DryRun).
func (s *Sim) DenyOperation(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyOps[op] = true
}

// DenyKMSKey makes every call that would use key (as KmsKeyId, or as the key
// of the snapshot a volume or copy is made from) fail with
// UnauthorizedOperation. A key ARN and its bare key id match each other.
func (s *Sim) DenyKMSKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyKeys[key] = true
}

type fateRule struct {
	fate    fate
	message string
}

// FailSnapshotsOf makes every later snapshot of id (a volume id, or the
// source snapshot of a copy) end in state "error" with message when it
// would have completed.
func (s *Sim) FailSnapshotsOf(id, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapFate[id] = fateRule{fate: fateError, message: message}
}

// StallSnapshotsOf makes every later snapshot of id stay pending forever
// (its progress stops at 42%).
func (s *Sim) StallSnapshotsOf(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapFate[id] = fateRule{fate: fateStall}
}

// SetSnapshotState forces an existing snapshot into state (pending,
// completed or error), with message for error.
func (s *Sim) SetSnapshotState(id string, state types.SnapshotState, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.snapshots[id]
	if sn == nil {
		return fmt.Errorf("ec2sim: no snapshot %s", id)
	}
	sn.forced, sn.message = state, message
	s.clock.touch()
	return nil
}
