package notiontest

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a manual clock for tests: its time moves only when [Clock.Advance]
// or [Clock.AdvanceToNext] moves it, and its timers fire only then. Its
// method set (Now and AfterFunc) is that of notionauth.Clock, so one Clock
// can be given to a notionauth.Transport and to a [Server] ([Server.SetClock]):
// both then see the same time, and a wait of a minute takes no real time.
//
// Timer callbacks run synchronously, on the goroutine that calls Advance, one
// after another and outside the clock's lock: a callback may call Now,
// AfterFunc or a stop function, but it must not block until some other
// goroutine advances the clock. Callbacks should be short (close a channel,
// take a short lock).
//
// A Clock is safe for concurrent use. Concurrent calls to Advance are
// allowed (time never goes back), but which of them runs which timer is not
// defined; tests normally advance from one goroutine.
//
// The zero value is a usable clock stopped at the zero time.Time (January 1,
// year 1, UTC); [NewClock] makes one that starts at a given time or now. A
// Clock must not be copied after first use.
type Clock struct {
	mu      sync.Mutex    // guards the fields below
	now     time.Time     // the current time
	timers  timerHeap     // pending timers, earliest first
	seq     uint64        // creation order of timers, for ties
	created chan struct{} // closed (and replaced) by every AfterFunc; nil until needed

	activity atomic.Uint64 // counts what happened: timers set, stopped or fired, requests served
	working  atomic.Int64  // requests a Server on this clock is answering, not waiting on it
}

// NewClock returns a Clock whose time is start. A zero start means
// time.Now(), so that deadlines made from real time (context.WithTimeout)
// still compare sensibly with the clock's time.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = time.Now()
	}
	return &Clock{now: start}
}

// clockTimer is one timer of a Clock.
type clockTimer struct {
	when  time.Time
	seq   uint64
	f     func()
	index int // in the heap; -1 once fired or stopped
}

// timerHeap orders timers by due time, then creation order.
type timerHeap []*clockTimer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*clockTimer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	t.index = -1
	return t
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to be called by the [Clock.Advance] that moves
// the clock to d from now or beyond, and returns a function that cancels the
// call: stop reports whether it stopped the timer before f was called (false
// when f has been called, is being called, or the timer was already stopped).
//
// A d of zero or less is due at once but, like any timer, fires only at the
// next Advance (Advance(0) included), never inside AfterFunc itself: callers
// often hold a lock of their own that f takes, as with time.AfterFunc, whose
// f runs in a goroutine of its own.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &clockTimer{when: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.seq++
	c.activity.Add(1)
	heap.Push(&c.timers, t)
	if c.created != nil {
		close(c.created)
		c.created = nil
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.index < 0 {
			return false
		}
		heap.Remove(&c.timers, t.index)
		c.activity.Add(1)
		return true
	}
}

// Advance moves the clock's time on by d (a negative d counts as zero) and
// calls, in order of due time (ties in creation order), every timer that
// is due by then, including timers that those callbacks create and that are
// due by then too. While a callback runs, Now reports that timer's due time
// (or the time the clock had already reached, for a timer created due in the
// past); once the callbacks are done, the clock stands at its starting time
// plus d. Advance returns when every due callback has returned.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(max(d, 0))
	c.mu.Unlock()
	c.advanceTo(target)
}

// AdvanceToNext moves the clock to the due time of its earliest pending
// timer and runs the timers due by then, as [Clock.Advance] does. It
// reports how far the clock moved and whether there was a timer; with none
// it does nothing.
func (c *Clock) AdvanceToNext() (time.Duration, bool) {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return 0, false
	}
	target := c.timers[0].when
	moved := max(target.Sub(c.now), 0)
	if moved == 0 {
		target = c.now
	}
	c.mu.Unlock()
	c.advanceTo(target)
	return moved, true
}

// advanceTo runs the timers due by target, one at a time with the lock
// released, then sets the time to target unless it is already later.
func (c *Clock) advanceTo(target time.Time) {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*clockTimer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		c.activity.Add(1)
		t.f()
	}
}

// Pending reports how many timers have been created and have neither fired
// nor been stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitPending blocks until at least n timers are pending (see
// [Clock.Pending]) or ctx is done, in which case it returns ctx.Err(). Tests
// use it to know that the goroutines they started are now waiting on the
// clock, before they advance it. It wakes up at each AfterFunc; it does not
// poll.
func (c *Clock) WaitPending(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return nil
		}
		if c.created == nil {
			c.created = make(chan struct{})
		}
		created := c.created
		c.mu.Unlock()
		select {
		case <-created:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AutoAdvance makes the clock move on by itself until stop is called:
// whenever timers are pending, no [Server] on this clock is answering a
// request (other than waiting on the clock, for a Delay), and nothing has
// happened for quiet, in real time, it advances to the earliest of them
// ([Clock.AdvanceToNext]). Something happens when a timer is set, stopped
// or fires, and when such a Server receives or answers a request. Code under test
// that waits on the clock (a Transport's pauses, backoffs and windows, a
// [Latency] fault) then runs through minutes of waiting in milliseconds,
// and a test need not know when to move the clock. A quiet of zero or
// less means five milliseconds.
//
// The clock moves only when the test's goroutines are idle as far as it
// can see: a goroutine busy for longer than quiet without touching the
// clock or the server may find that time has moved on, as it would have
// in real time.
func (c *Clock) AutoAdvance(quiet time.Duration) (stop func()) {
	if quiet <= 0 {
		quiet = 5 * time.Millisecond
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(quiet / 4)
		defer tick.Stop()
		seen, since := c.activity.Load(), time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if a := c.activity.Load(); a != seen {
				seen, since = a, time.Now()
				continue
			}
			if time.Since(since) >= quiet && c.working.Load() == 0 && c.Pending() > 0 {
				c.AdvanceToNext()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-ended
	}
}

// busy records that a request started (+1) or ended (-1) being
// answered, or stopped (-1) or resumed (+1) working while it waits on the
// clock: AutoAdvance moves the clock only while none is.
func (c *Clock) busy(d int64) {
	c.working.Add(d)
	c.activity.Add(1)
}

// String returns the clock's time as time.Time's String does, without the
// monotonic clock reading.
func (c *Clock) String() string {
	return c.Now().Round(0).String()
}

// SetClock makes the server take every time it reads or waits on from c:
// the rate-limit windows and the Retry-After they answer, the [Fault]
// Delay and [Latency] waits, the Time of logged requests, when tokens were
// issued (introspection's iat) and when objects were created and last
// edited. nil means the system clock, the default.
//
// SetClock starts every token's and workspace's rate-limit window afresh,
// as [Server.SetRateLimit] does, since windows started on one clock mean
// nothing on another; times already recorded are kept. Call it before the
// requests whose times matter: a Delay already being waited out stays on the
// clock it started on.
func (s *Server) SetClock(c *Clock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.Store(c)
	s.resetWindowsLocked()
}

// now is the current time on the server's clock.
func (s *Server) now() time.Time {
	if c := s.clock.Load(); c != nil {
		return c.Now()
	}
	return time.Now()
}

// afterFunc calls f once d has passed on the server's clock, and returns
// the timer's stop function.
func (s *Server) afterFunc(d time.Duration, f func()) (stop func() bool) {
	if c := s.clock.Load(); c != nil {
		return c.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f).Stop
}
