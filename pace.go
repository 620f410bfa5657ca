package notionauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultWindow is the length of Notion's per-connection rate-limit window:
// its budgets are published per minute (180 requests on most plans, 600 on
// Business and Enterprise).
const DefaultWindow = time.Minute

// Pacing says how a [Transport] spends each token's rate budget. The zero
// value learns the budget from Notion's answers.
//
// Every token has one pace, shared by all the goroutines (and all the
// clients) that use it through the same Transport:
//
//   - a 429 with Retry-After pauses the token: every request of that token,
//     queued or new, waits until the pause ends instead of meeting its own
//     429, and then they are let through in arrival order;
//   - the first window that ends in a per-connection 429 teaches the budget:
//     the number of requests Notion accepted in it. From then on the token
//     sends at most that many requests per window and waits for the next
//     window before sending more, so later windows meet no 429 at all;
//   - the budget is learnt again whenever Notion disagrees: a 429 that comes
//     earlier lowers it, and after a run of windows that spent it all without
//     a 429 it is tried a little higher (one step, so a plan upgrade from 180
//     to 600 requests a minute is found within minutes at the cost of a few
//     429s).
type Pacing struct {
	// Budget is the number of requests a token may send per Window, for an
	// app that knows its plan. 0 means learn it. Negative values are
	// invalid.
	Budget int
	// Window is the length of the rate-limit window. 0 means
	// DefaultWindow. Negative values are invalid.
	Window time.Duration
	// Off switches pacing off: no shared pause, no budget. Retries still
	// wait out each Retry-After on their own.
	Off bool
}

func (p Pacing) window() time.Duration {
	if p.Window == 0 {
		return DefaultWindow
	}
	return p.Window
}

func (p Pacing) validate() error {
	switch {
	case p.Budget < 0:
		return fmt.Errorf("Pacing.Budget is %d, want 0 (learn) or more", p.Budget)
	case p.Window < 0:
		return fmt.Errorf("Pacing.Window is %v, want 0 (default) or more", p.Window)
	}
	return nil
}

// growAfter is how many windows in a row must spend the whole learnt
// budget without a 429 before a higher budget is tried.
const growAfter = 8

// errWaitTooLong: the pacer would make the request wait longer than
// allowed.
var errWaitTooLong = errors.New("notionauth: wait too long")

// clock is the time source of a pacer; tests replace it.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

type stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                              { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// pacer is the pace of one token: its shared pause and its budget per
// window. It is safe for concurrent use.
type pacer struct {
	clock  clock
	window time.Duration
	fixed  bool // the budget was configured, not learnt

	mu        sync.Mutex // guards everything below
	limit     int        // requests per window; 0: not known yet
	start     time.Time  // start of the current window; zero: none yet
	answered  time.Time  // when its first answer came back; zero: none yet
	used      int        // requests let through in the current window
	accepted  int        // of those, answered without a 429
	gen       uint64     // the current window's number
	taughtGen uint64     // the window the budget was last learnt from
	taught    int        // requests accepted in that window, late answers included
	until     time.Time  // the shared pause: nothing is sent before it
	queue     []*waiter  // requests waiting, in arrival order
	timerAt   time.Time  // when timer fires; zero: no timer
	timer     stopper
	full      int       // windows in a row that spent the whole budget without a 429
	lastUse   time.Time // for idle eviction
}

// waiter is a request waiting for its turn.
type waiter struct {
	ready chan struct{} // closed when the request may be sent
	gen   uint64        // the window it was let through in
	let   bool          // let through (ready is closed)
}

// ticket is what acquire hands out: the window a request was sent in, so
// that its answer is counted against the right window.
type ticket struct{ gen uint64 }

func newPacer(c clock, cfg Pacing) *pacer {
	return &pacer{clock: c, window: cfg.window(), limit: cfg.Budget, fixed: cfg.Budget > 0}
}

// margin is how long after a predicted window end the pacer waits before
// sending again: enough to cover the time a request takes to reach Notion
// (which starts its window when the request arrives), small enough to waste
// about one percent of the window.
func (p *pacer) margin() time.Duration {
	return max(p.window/100, 10*time.Millisecond)
}

// roll starts a new window when the current one is over. Caller holds mu.
func (p *pacer) roll(now time.Time) {
	end := p.windowStart().Add(p.window)
	if p.limit > 0 {
		end = end.Add(p.margin())
	}
	if !p.start.IsZero() && now.Before(end) {
		return
	}
	if !p.fixed && p.limit > 0 {
		// Windows that spend the whole budget without a 429 may mean it
		// has grown (a plan upgrade): after a run of them, try a step up.
		if !p.start.IsZero() && p.used >= p.limit {
			p.full++
		} else {
			p.full = 0
		}
		if p.full >= growAfter {
			p.limit += max(1, p.limit/8)
			p.full = 0
		}
	}
	p.start, p.used, p.accepted = now, 0, 0
	p.gen++
}

// open reports whether a request may be sent now. Caller holds mu and has
// rolled the window.
func (p *pacer) open(now time.Time) bool {
	return !now.Before(p.until) && (p.limit == 0 || p.used < p.limit)
}

// nextOpen is when the pacer may open next. Caller holds mu.
func (p *pacer) nextOpen(now time.Time) time.Time {
	if now.Before(p.until) {
		return p.until
	}
	return p.windowStart().Add(p.window + p.margin())
}

// windowStart is when Notion's current window began at the latest: no
// later than the first answer of the window came back (Notion starts
// counting when a request arrives, which the pacer cannot see), and no
// earlier than the pacer let its first request go. Caller holds mu.
func (p *pacer) windowStart() time.Time {
	if p.answered.After(p.start) {
		return p.answered
	}
	return p.start
}

// eta estimates how long a request joining the queue now would wait.
// Caller holds mu.
func (p *pacer) eta(now time.Time) time.Duration {
	wait := p.nextOpen(now).Sub(now)
	if p.limit > 0 {
		wait += time.Duration(len(p.queue)/p.limit) * (p.window + p.margin())
	}
	return max(wait, 0)
}

// acquire waits until a request may be sent, in arrival order, and returns
// how long it waited (0 when it did not). If the wait would be longer than
// maxWait (or outlast ctx), it does not wait: it returns the estimated wait
// and errWaitTooLong. If ctx ends first it returns the estimate and
// ctx.Err().
func (p *pacer) acquire(ctx context.Context, maxWait time.Duration) (ticket, time.Duration, error) {
	p.mu.Lock()
	now := p.clock.Now()
	p.lastUse = now
	p.roll(now)
	if len(p.queue) == 0 && p.open(now) {
		p.used++
		t := ticket{p.gen}
		p.mu.Unlock()
		return t, 0, nil
	}
	wait := p.eta(now)
	// The margin is the pacer's own caution, not a wait Notion asked for:
	// waiting for the next window must fit a MaxWait of one window.
	if wait > maxWait+p.margin() || beyondDeadline(ctx, now, wait) {
		p.mu.Unlock()
		return ticket{}, wait, errWaitTooLong
	}
	w := &waiter{ready: make(chan struct{})}
	p.queue = append(p.queue, w)
	p.schedule(now)
	p.mu.Unlock()

	select {
	case <-w.ready:
		return ticket{w.gen}, max(p.clock.Now().Sub(now), time.Nanosecond), nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.let {
		// Let through just as ctx ended: hand the turn back.
		if w.gen == p.gen {
			p.used--
		}
		p.release(p.clock.Now())
	} else {
		for i, q := range p.queue {
			if q == w {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
	}
	return ticket{}, wait, ctx.Err()
}

// release lets waiting requests through, oldest first, as far as the pause
// and the budget allow, and schedules the next release. Caller holds mu.
func (p *pacer) release(now time.Time) {
	p.roll(now)
	for len(p.queue) > 0 && p.open(now) {
		w := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.used++
		w.gen, w.let = p.gen, true
		close(w.ready)
	}
	if len(p.queue) > 0 {
		p.schedule(now)
	}
}

// schedule makes sure a timer fires when the pacer opens next. Caller
// holds mu.
func (p *pacer) schedule(now time.Time) {
	at := p.nextOpen(now)
	if !p.timerAt.IsZero() && !at.Before(p.timerAt) {
		return // a timer fires earlier: it reschedules
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timerAt = at
	p.timer = p.clock.AfterFunc(at.Sub(now), p.fire)
}

func (p *pacer) fire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timerAt, p.timer = time.Time{}, nil
	p.release(p.clock.Now())
}

// done records the answer to a request sent with t: e is nil for a success.
func (p *pacer) done(t ticket, e *Error) {
	if e == nil || e.Kind != Throttled {
		if e != nil && e.StatusCode == 0 {
			return // no answer: Notion did not count it, as far as we know
		}
		p.mu.Lock()
		switch {
		case t.gen == p.gen:
			p.accepted++
			if p.answered.Before(p.start) {
				p.answered = p.clock.Now()
			}
		case t.gen == p.taughtGen && p.taughtGen != 0:
			// A late answer from the window that taught the budget:
			// Notion accepted one more than was counted then.
			p.taught++
			if !p.fixed {
				p.limit = max(p.limit, p.taught)
			}
		}
		p.mu.Unlock()
		return
	}
	if e.RetryAfter <= 0 {
		return // nothing to share: the call backs off on its own
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	until := now.Add(e.RetryAfter)
	if until.After(p.until) {
		p.until = until
	}
	if e.StatusCode == 429 && isConnectionLimit(e.Reason) && t.gen == p.gen {
		// The token's window is spent: what Notion accepted in it is the
		// budget, and the next window starts when the pause ends. That is
		// learnt only from a window the pacer saw from its start: Notion's
		// began about RetryAfter-Window from now, and if that is before
		// this pacer's window began, requests it did not see (an earlier
		// process, another replica) spent part of the budget.
		// Retry-After comes in whole seconds: allow for that too.
		slack := p.margin() + min(time.Second, p.window/10)
		seen := !until.Add(-p.window).Before(p.start.Add(-slack))
		// Answers arrive in any order: successes of this window that come
		// after the 429 still count (see the late answers above), so the
		// window is remembered even when none has come yet.
		if seen {
			p.taught, p.taughtGen = p.accepted, p.gen
			if !p.fixed && p.accepted > 0 {
				p.limit = p.accepted
			}
		}
		p.full = 0
		p.start, p.used, p.accepted = p.until, 0, 0
		p.gen++
	}
	if len(p.queue) > 0 {
		p.schedule(now)
	}
}

// idle reports whether the pacer holds nothing worth keeping: no waiter,
// no pause, no use for two windows. A forgotten pacer relearns its budget.
func (p *pacer) idle(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue) == 0 && !now.Before(p.until) && now.Sub(p.lastUse) > 2*p.window
}

// isConnectionLimit reports whether a 429's reason is the per-connection
// budget (or unknown, which Notion's docs say to treat the same way), the
// only budget a token's own pace can learn.
func isConnectionLimit(reason string) bool {
	switch reason {
	case ReasonSpaceRateLimit, ReasonEndpointRateLimit:
		return false
	}
	return true
}

func beyondDeadline(ctx context.Context, now time.Time, wait time.Duration) bool {
	d, ok := ctx.Deadline()
	return ok && now.Add(wait).After(d)
}
