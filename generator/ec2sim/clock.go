package ec2sim

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultIdleWindow is how long (in real time) nothing must touch the clock
// or the simulator before an auto-advancing Clock jumps to the next event.
const DefaultIdleWindow = 300 * time.Microsecond

// Clock is a discrete-event virtual clock. It satisfies ebs.Clock.
//
// Now returns the virtual time, which never moves backwards. Sleep(ctx, d)
// registers a wake-up at Now()+d and blocks until virtual time reaches it
// (or ctx is done). Time moves only in jumps:
//
//   - auto mode (NewClock): when the process has been idle for the idle
//     window (no Sleep, wake-up or simulator call began or ended during that
//     much real time), the clock jumps to the earliest pending event — the
//     earliest sleeper's wake-up or the earliest future state change of a
//     simulator on this clock (a snapshot completing, a volume becoming
//     available, an FSR state change) — and releases the sleepers due then.
//     No jump happens while a simulator call is in progress or a released
//     sleeper has not yet returned from Sleep. One jump releases one
//     wake-up time (ties together), so goroutines
//     that wait only through this clock see events in the order real
//     concurrency would produce them, and elapsed virtual time is the
//     critical path of their sleeps, not their sum. A goroutine that
//     computes for longer than the idle window between clock or simulator
//     calls may see time pass under it (as wall time would); that can only
//     make measured durations longer, never shorter. Callers that poll in
//     real time (the SDK waiters) also make progress, because the clock
//     jumps to the simulator's next state change while they sleep, as long
//     as their real delay exceeds the idle window. The auto-advance
//     goroutine exists only while there is an event pending.
//   - manual mode (NewManualClock): time moves only through Advance and
//     AdvanceTo; Sleep blocks until then. Deterministic, for unit tests.
type Clock struct {
	mu       sync.Mutex
	start    time.Time
	now      time.Time
	waiters  waiterHeap
	seq      uint64
	idle     time.Duration // 0: manual
	sources  []func() (time.Time, bool)
	running  bool
	activity atomic.Uint64
	// busy counts sleepers released but not yet returned from Sleep, and
	// simulator calls in progress: the clock does not jump while any is.
	busy atomic.Int64
}

// NewClock returns an auto-advancing clock at start. idle <= 0 selects
// DefaultIdleWindow.
func NewClock(start time.Time, idle time.Duration) *Clock {
	if idle <= 0 {
		idle = DefaultIdleWindow
	}
	return &Clock{start: start, now: start, idle: idle}
}

// NewManualClock returns a clock at start that moves only by Advance.
func NewManualClock(start time.Time) *Clock {
	return &Clock{start: start, now: start}
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Start returns the time the clock was created at.
func (c *Clock) Start() time.Time { return c.start }

// Elapsed returns the virtual time passed since Start.
func (c *Clock) Elapsed() time.Duration { return c.Now().Sub(c.start) }

// Sleepers returns how many goroutines are blocked in Sleep.
func (c *Clock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Sleep blocks until virtual time reaches Now()+d, or until ctx is done
// (then it returns ctx.Err()). d <= 0 returns at once.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.touch()
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	w := &waiter{wake: c.now.Add(d), seq: c.seq, ch: make(chan struct{})}
	c.seq++
	heap.Push(&c.waiters, w)
	c.kickLocked()
	c.mu.Unlock()
	select {
	case <-w.ch:
		c.touch()
		c.busy.Add(-1)
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if w.idx >= 0 {
			heap.Remove(&c.waiters, w.idx)
			w.idx = -1
		} else {
			c.busy.Add(-1) // released meanwhile
		}
		c.mu.Unlock()
		c.touch()
		return ctx.Err()
	}
}

// Advance moves a clock forward by d and releases the sleepers due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceToLocked(c.now.Add(d))
}

// AdvanceTo moves the clock forward to t (never backwards).
func (c *Clock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceToLocked(t)
}

// WaitForSleepers blocks (in real time) until at least n goroutines are
// blocked in Sleep, or ctx is done. Tests use it before Advance.
func (c *Clock) WaitForSleepers(ctx context.Context, n int) error {
	for c.Sleepers() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Microsecond):
		}
	}
	return nil
}

// touch records activity; the auto clock advances only after a quiet window.
func (c *Clock) touch() { c.activity.Add(1) }

// enter and exit bracket a simulator call: no jump happens during one.
func (c *Clock) enter() { c.busy.Add(1); c.activity.Add(1) }
func (c *Clock) exit()  { c.activity.Add(1); c.busy.Add(-1) }

// addSource registers a function returning the earliest future event of a
// simulator; it is called without the clock's lock held.
func (c *Clock) addSource(f func() (time.Time, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources = append(c.sources, f)
}

// kick starts the auto-advance goroutine if there may be something to do.
func (c *Clock) kick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kickLocked()
}

func (c *Clock) kickLocked() {
	if c.idle > 0 && !c.running {
		c.running = true
		go c.advancer()
	}
}

func (c *Clock) advancer() {
	for {
		before := c.activity.Load()
		time.Sleep(c.idle)
		if c.activity.Load() != before || c.busy.Load() > 0 {
			continue
		}
		c.mu.Lock()
		sources := c.sources
		c.mu.Unlock()
		var next time.Time
		have := false
		for _, f := range sources {
			if t, ok := f(); ok && (!have || t.Before(next)) {
				next, have = t, true
			}
		}
		c.mu.Lock()
		if c.activity.Load() != before || c.busy.Load() > 0 {
			c.mu.Unlock()
			continue
		}
		if len(c.waiters) > 0 && (!have || c.waiters[0].wake.Before(next)) {
			next, have = c.waiters[0].wake, true
		}
		if !have {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.advanceToLocked(next)
		c.mu.Unlock()
	}
}

func (c *Clock) advanceToLocked(t time.Time) {
	if t.After(c.now) {
		c.now = t
	}
	for len(c.waiters) > 0 && !c.waiters[0].wake.After(c.now) {
		w := heap.Pop(&c.waiters).(*waiter)
		w.idx = -1
		c.busy.Add(1)
		close(w.ch)
	}
	c.activity.Add(1)
}

type waiter struct {
	wake time.Time
	seq  uint64
	idx  int
	ch   chan struct{}
}

type waiterHeap []*waiter

func (h waiterHeap) Len() int { return len(h) }
func (h waiterHeap) Less(i, j int) bool {
	if h[i].wake.Equal(h[j].wake) {
		return h[i].seq < h[j].seq
	}
	return h[i].wake.Before(h[j].wake)
}
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*waiter)
	w.idx = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return w
}
