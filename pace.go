package notionauth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
//     429, and then they are let through in arrival order. Notion's
//     Retry-After is in whole seconds, rounded up, so a pause of n seconds
//     may really end up to a second earlier: the pause ends at the latest
//     moment all the 429s (and, for the token's own budget, the start of its
//     window) agree on, and a call whose deadline falls after the earliest
//     moment the pause may end waits rather than fail;
//   - the first window that ends in a per-connection 429 teaches the budget:
//     the number of requests Notion accepted in it. From then on the token
//     sends at most that many requests per window and waits for the next
//     window before sending more, so later windows meet no 429 at all;
//   - the budget is learnt again whenever Notion disagrees: a 429 that comes
//     earlier lowers it, and after a run of windows that spent it all without
//     a 429 it is tried a little higher (one step, so a plan upgrade from 180
//     to 600 requests a minute is found within minutes at the cost of a few
//     429s).
//
// A request that finds its token neither paused nor out of budget takes no
// lock. A token's pace costs about 150 bytes of memory while it is in use,
// and is forgotten once the token has not been used for 10 windows (with
// no pause in force): the memory is that of the tokens used in the last
// ten minutes, however many tokens there have been.
type Pacing struct {
	// Budget is the number of requests a token may send per Window, for an
	// app that knows its plan. 0 means learn it. Negative values are
	// invalid.
	Budget int
	// Window is the length of the rate-limit window. 0 means
	// DefaultWindow. Negative values are invalid.
	Window time.Duration
	// MaxPause is the longest a single answer may pause a token: a
	// Retry-After beyond it pauses the token for MaxPause only (the call
	// that met it still reports the whole Retry-After). Notion's longest
	// waits are the workspace's, of minutes; a pause of hours says more
	// about whoever answered. 0 means DefaultMaxPause. Negative values are
	// invalid. [Transport.ClearPause] ends a pause at once.
	MaxPause time.Duration
	// Off switches pacing off: no shared pause, no budget. Retries still
	// wait out each Retry-After on their own.
	Off bool
}

// DefaultMaxPause bounds a token's pause when Pacing.MaxPause is zero.
const DefaultMaxPause = time.Hour

func (p Pacing) window() time.Duration { return orDefault(p.Window, DefaultWindow) }

func (p Pacing) validate() error {
	switch {
	case p.Budget < 0:
		return fmt.Errorf("Pacing.Budget is %d, want 0 (learn) or more", p.Budget)
	case p.Budget > maxBudget:
		return fmt.Errorf("Pacing.Budget is %d, want at most %d", p.Budget, maxBudget)
	case p.Window < 0:
		return fmt.Errorf("Pacing.Window is %v, want 0 (default) or more", p.Window)
	case p.MaxPause < 0:
		return fmt.Errorf("Pacing.MaxPause is %v, want 0 (default) or more", p.MaxPause)
	}
	return nil
}

const (
	// growAfter is how many windows in a row must spend the whole learnt
	// budget without a 429 before a higher budget is tried.
	growAfter = 8
	// idleWindows is how many windows a token's pace is kept unused.
	idleWindows = 10
	// maxBudget bounds a budget so that it fits the counters.
	maxBudget = 1 << 30
	// wholeSecond is the precision of a Retry-After in whole seconds.
	wholeSecond = int64(time.Second)
)

// errWaitTooLong: the pacer would make the request wait longer than
// allowed, or past its deadline.
var errWaitTooLong = errors.New("notionauth: wait too long")

// paceConfig is what the pacers of one Transport share: their clock and
// their settings. Times are nanoseconds since epoch on that clock.
type paceConfig struct {
	clock    Clock
	system   bool // clock is the system's: now reads only its monotonic clock
	epoch    time.Time
	window   int64
	margin   int64
	maxPause int64
	budget   int32 // configured; 0: learn
}

func newPaceConfig(c Clock, p Pacing) *paceConfig {
	w := int64(p.window())
	_, system := c.(systemClock)
	return &paceConfig{
		clock:  c,
		system: system,
		// A second before the first reading: every time is positive, and
		// 0 can mean "none".
		epoch:  c.Now().Add(-time.Second),
		window: w,
		// Notion starts a window when its first request arrives, which is
		// before its answer comes back: a window ends no later than one
		// window after its first answer. The margin only allows for the
		// two clocks running at slightly different rates. A larger one
		// would fail calls whose deadline falls just after the window's
		// end, and a worker pool would then drain its queue through fast
		// failures.
		margin:   int64(time.Millisecond) + w/50000,
		maxPause: int64(orDefault(p.MaxPause, DefaultMaxPause)),
		budget:   int32(p.Budget),
	}
}

func (c *paceConfig) now() int64 {
	if c.system {
		// time.Since reads the monotonic clock alone, at half the cost of
		// time.Now, which reads the wall clock too.
		return int64(time.Since(c.epoch))
	}
	return int64(c.clock.Now().Sub(c.epoch))
}

// pacer is the pace of one token: its shared pause and its budget per
// window. It is safe for concurrent use.
//
// The fields read by the fast path are atomics, written under mu; a
// request that may go at once (no pause, no queue, budget left) only
// loads them, and counts itself and its answer with a compare-and-swap
// each. A pacer is 128 bytes, which the allocator places on a 128-byte
// boundary: the fields every request reads fill the first cache line,
// and the counter every answer writes sits in the second, so that
// writing it on one core does not evict the first from the others.
type pacer struct {
	// The first cache line: read by every request, written rarely.
	cfg      *paceConfig
	word     atomic.Uint64 // gen<<32 | requests let through in the window (counted under a budget only)
	limit    atomic.Int32  // requests per window; 0: not known
	waiting  atomic.Int32  // requests in the queue
	until    atomic.Int64  // the shared pause: nothing is sent before it
	start    atomic.Int64  // when the window began: its first request went
	answered atomic.Int64  // when its first answer came back; 0: none yet
	used     atomic.Int64  // last use, for forgetting idle pacers; written once a second at most
	dead     atomic.Bool   // forgotten by its table: look it up again
	_        [4]byte

	// The second: written by every answer, and the slow path's.
	acc       tally      // answers without a 429 in the window, while the budget is learnt
	mu        sync.Mutex // guards the fields below, and every write of the atomics but counting
	earliest  int64      // the earliest the pause may end (whole-second Retry-After)
	taughtGen uint32     // the window the budget was last learnt from
	taught    int32      // requests accepted in that window, late answers included
	full      int32      // windows in a row that spent the whole budget without a 429
	q         *queue     // requests waiting; nil when none ever waited
	_         [8]byte
}

// tally counts a window's answers: in one word while the cores take turns,
// and over stripes of a cache line each once two of them meet on it, so
// that a token used from many cores at once does not have them all wait
// on one cache line. A token used from one goroutine never pays for the
// stripes.
type tally struct {
	one     atomic.Uint64           // gen<<32 | count; its gen is the current window's
	stripes atomic.Pointer[stripes] // nil until the word was contended
}

type stripes [8]struct {
	v atomic.Uint64 // gen<<32 | count; counts only while gen is the current window's
	_ [56]byte
}

// reset starts counting window g.
func (t *tally) reset(g uint32) { t.one.Store(uint64(g) << 32) }

// add counts one answer of window g, and reports false when g is not the
// window being counted.
func (t *tally) add(g uint32) bool {
	for tries := 0; ; tries++ {
		v := t.one.Load()
		if gen(v) != g {
			return false
		}
		if s := t.stripes.Load(); s != nil {
			return s.add(g)
		}
		if t.one.CompareAndSwap(v, v+1) {
			return true
		}
		if tries > 0 { // met another core twice: spread out
			t.stripes.CompareAndSwap(nil, new(stripes))
		}
	}
}

func (s *stripes) add(g uint32) bool {
	v := &s[rand.Uint32()%uint32(len(s))].v
	for {
		old := v.Load()
		next := uint64(g)<<32 | 1 // a stripe of an older window starts over
		switch {
		case gen(old) == g:
			next = old + 1
		case gen(old) > g:
			return false
		}
		if v.CompareAndSwap(old, next) {
			return true
		}
	}
}

// count is how many answers window g had.
func (t *tally) count(g uint32) uint32 {
	v := t.one.Load()
	if gen(v) != g {
		return 0
	}
	n := count(v)
	if s := t.stripes.Load(); s != nil {
		for i := range s {
			if w := s[i].v.Load(); gen(w) == g {
				n += count(w)
			}
		}
	}
	return n
}

// queue is the line of a pacer, made when a request first has to wait.
type queue struct {
	w       []*waiter
	timerAt int64       // when the release timer fires; 0: no timer
	stop    func() bool // stops that timer
}

// waiter is a request waiting for its turn.
type waiter struct {
	ready chan struct{} // closed when the request may be sent
	gen   uint32        // the window it was let through in
	let   bool          // let through (ready is closed)
}

// ticket is what acquire hands out: the window a request was sent in, so
// that its answer is counted against the right window.
type ticket struct{ gen uint32 }

func newPacer(cfg *paceConfig) *pacer {
	p := &pacer{cfg: cfg}
	p.limit.Store(cfg.budget)
	p.word.Store(1 << 32) // window 1, not started
	p.acc.reset(1)
	return p
}

func gen(w uint64) uint32   { return uint32(w >> 32) }
func count(w uint64) uint32 { return uint32(w) }

// end is when the current window is over (see windowStart), and a learnt
// budget waits a margin more, for the clocks to disagree a little.
func (p *pacer) end() int64 {
	s := p.windowStart()
	if s == 0 {
		return 0 // never started
	}
	e := s + p.cfg.window
	if p.limit.Load() > 0 {
		e += p.cfg.margin
	}
	return e
}

// windowStart is the latest Notion's current window can have begun:
// Notion starts counting when the window's first request arrives, which is
// after it was sent and before its answer came back. A request sent a
// window after the answer arrives after the window's end, however long
// the answer took (handshakes of a new connection) and whichever way the
// round trip's time was spent.
func (p *pacer) windowStart() int64 {
	return max(p.start.Load(), p.answered.Load())
}

// take counts one request in the current window if the budget has room.
// Without a budget there is nothing to count.
func (p *pacer) take(now int64) (uint32, bool) {
	lim := uint32(p.limit.Load())
	for {
		w := p.word.Load()
		if now < p.until.Load() || lim > 0 && count(w) >= lim {
			return 0, false
		}
		if lim == 0 || p.word.CompareAndSwap(w, w+1) {
			return gen(w), true
		}
	}
}

// touch records a use, at most once a second, for idle eviction.
func (p *pacer) touch(now int64) {
	if now-p.used.Load() > wholeSecond {
		p.used.Store(now)
	}
}

// acquire waits until a request may be sent, in arrival order, and returns
// how long it waited (0 when it did not). If the wait would be longer than
// maxWait, or the earliest moment the request could go is past ctx's
// deadline, it does not wait: it returns the expected wait and
// errWaitTooLong. If ctx ends first, or its deadline passes on the clock,
// it returns the wait still expected and ctx's error
// (context.DeadlineExceeded for a deadline).
func (p *pacer) acquire(ctx context.Context, maxWait time.Duration) (ticket, time.Duration, error) {
	return p.acquireAt(ctx, maxWait, p.cfg.now())
}

// acquireAt is acquire at now, a time just read from the pacer's clock.
func (p *pacer) acquireAt(ctx context.Context, maxWait time.Duration, now int64) (ticket, time.Duration, error) {
	p.touch(now)
	if p.waiting.Load() == 0 && now < p.end() {
		if g, ok := p.take(now); ok {
			return ticket{g}, 0, nil
		}
	}
	return p.wait(ctx, now, maxWait)
}

// wait is acquire's slow path, under the lock.
func (p *pacer) wait(ctx context.Context, now int64, maxWait time.Duration) (ticket, time.Duration, error) {
	p.mu.Lock()
	p.roll(now)
	if p.waiting.Load() == 0 {
		if g, ok := p.take(now); ok {
			p.mu.Unlock()
			return ticket{g}, 0, nil
		}
	}
	wait, earliest := p.eta(now)
	if wait > int64(maxWait)+p.cfg.margin || beyond(ctx, p.cfg, now, earliest) {
		p.mu.Unlock()
		return ticket{}, time.Duration(wait), errWaitTooLong
	}
	if p.q == nil {
		p.q = &queue{}
	}
	w := &waiter{ready: make(chan struct{})}
	p.q.w = append(p.q.w, w)
	p.waiting.Store(int32(len(p.q.w)))
	p.schedule(now)
	p.mu.Unlock()

	ended, stop := deadlineOn(ctx, p.cfg, now, wait)
	if stop != nil {
		defer stop()
	}
	var err error
	select {
	case <-w.ready:
		return ticket{w.gen}, max(time.Duration(p.cfg.now()-now), time.Nanosecond), nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-ended:
		err = context.DeadlineExceeded
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	left := p.cfg.now()
	if w.let {
		// Let through just as the wait ended: hand the turn back.
		for {
			cur := p.word.Load()
			if gen(cur) != w.gen || count(cur) == 0 || p.word.CompareAndSwap(cur, cur-1) {
				break
			}
		}
		p.release(left)
	} else {
		for i, q := range p.q.w {
			if q == w {
				p.q.w = append(p.q.w[:i], p.q.w[i+1:]...)
				break
			}
		}
		p.waiting.Store(int32(len(p.q.w)))
	}
	return ticket{}, max(time.Duration(now+wait-left), 0), err
}

// beyond reports whether a request that could go at the earliest after
// wait would still be waiting at ctx's deadline.
func beyond(ctx context.Context, cfg *paceConfig, now, wait int64) bool {
	left, ok := leftBefore(ctx, cfg.epoch.Add(time.Duration(now)))
	return ok && int64(left) <= wait
}

// deadlineOn returns a channel closed when ctx's deadline passes on cfg's
// clock, if that comes before the expected wait is over, and the function
// that stops its timer.
func deadlineOn(ctx context.Context, cfg *paceConfig, now, wait int64) (<-chan struct{}, func() bool) {
	left, ok := leftBefore(ctx, cfg.epoch.Add(time.Duration(now)))
	if !ok || int64(left) > wait {
		return nil, nil
	}
	ch := make(chan struct{})
	return ch, cfg.clock.AfterFunc(left, func() { close(ch) })
}

// roll starts a new window when the current one is over. Caller holds mu.
func (p *pacer) roll(now int64) {
	if e := p.end(); e != 0 && now < e {
		return
	}
	w := p.word.Load()
	lim := p.limit.Load()
	if p.cfg.budget == 0 && lim > 0 {
		// Windows that spend the whole budget without a 429 may mean it
		// has grown (a plan upgrade): after a run of them, try a step up.
		if p.start.Load() != 0 && count(w) >= uint32(lim) {
			p.full++
		} else {
			p.full = 0
		}
		if p.full >= growAfter {
			p.limit.Store(min(lim+max(1, lim/8), maxBudget))
			p.full = 0
		}
	}
	p.begin(max(now, p.until.Load()), gen(w)+1)
}

// begin starts window g at t. Caller holds mu.
func (p *pacer) begin(t int64, g uint32) {
	p.start.Store(t)
	p.answered.Store(0)
	p.acc.reset(g)
	p.word.Store(uint64(g) << 32) // last: it publishes the window
}

// eta is how long a request joining the queue now would wait, at the
// latest and at the earliest. Caller holds mu and has rolled.
func (p *pacer) eta(now int64) (wait, earliest int64) {
	at, lo := now, now // open: the line is about to move
	lim := int64(p.limit.Load())
	switch until := p.until.Load(); {
	case now < until:
		at, lo = until, max(p.earliest, now)
	case lim > 0 && int64(count(p.word.Load())) >= lim:
		// Notion's window began between the first request and the first
		// answer of the pacer's.
		at, lo = p.end(), max(p.start.Load()+p.cfg.window, now)
	}
	if lim > 0 && p.q != nil {
		n := int64(len(p.q.w)) / lim
		at += n * (p.cfg.window + p.cfg.margin)
		lo += n * p.cfg.window
	}
	return max(at-now, 0), max(lo-now, 0)
}

// release lets waiting requests through, oldest first, as far as the pause
// and the budget allow, and schedules the next release. Caller holds mu.
func (p *pacer) release(now int64) {
	p.roll(now)
	if p.q == nil {
		return
	}
	for len(p.q.w) > 0 {
		g, ok := p.take(now)
		if !ok {
			break
		}
		w := p.q.w[0]
		p.q.w[0] = nil
		p.q.w = p.q.w[1:]
		w.gen, w.let = g, true
		close(w.ready)
	}
	p.waiting.Store(int32(len(p.q.w)))
	if len(p.q.w) > 0 {
		p.schedule(now)
	}
}

// schedule makes sure a timer fires when the pacer opens next. Caller
// holds mu.
func (p *pacer) schedule(now int64) {
	at := p.end()
	if until := p.until.Load(); now < until {
		at = until
	}
	at = max(at, now+1)
	q := p.q
	if q.timerAt != 0 && q.timerAt <= at {
		return // a timer fires earlier: it reschedules
	}
	if q.stop != nil {
		q.stop()
	}
	q.timerAt = at
	q.stop = p.cfg.clock.AfterFunc(time.Duration(at-now), p.fire)
}

func (p *pacer) fire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.q.timerAt, p.q.stop = 0, nil
	p.release(p.cfg.now())
}

// done records the answer to a request sent with t: e is nil for a success.
func (p *pacer) done(t ticket, e *Error) {
	if e == nil || e.Kind != Throttled {
		if e != nil && e.StatusCode == 0 {
			return // no answer: Notion did not count it, as far as we know
		}
		p.accepted(t)
		return
	}
	if e.RetryAfter <= 0 {
		return // nothing to share: the call backs off on its own
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttled(t, e, p.cfg.now())
}

// accepted counts an answer Notion did not refuse.
func (p *pacer) accepted(t ticket) {
	if p.cfg.budget > 0 {
		// A budget the app set is never learnt: only the window's first
		// answer matters.
		p.answer(t)
		return
	}
	if p.acc.add(t.gen) {
		p.answer(t)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.gen == p.taughtGen && p.taughtGen != 0 {
		// A late answer from the window that taught the budget: Notion
		// accepted one more than was counted then.
		p.taught++
		if p.cfg.budget == 0 {
			p.limit.Store(max(p.limit.Load(), p.taught))
		}
	}
}

// answer notes the time of the window's first answer: Notion's window
// began before it. (A window that rolled meanwhile keeps its own.)
func (p *pacer) answer(t ticket) {
	if p.answered.Load() != 0 || gen(p.word.Load()) != t.gen {
		return
	}
	now := p.cfg.now()
	if p.answered.CompareAndSwap(0, now) && gen(p.word.Load()) != t.gen {
		p.answered.CompareAndSwap(now, 0)
	}
}

// throttled records a 429 or 529 with a Retry-After. Caller holds mu.
func (p *pacer) throttled(t ticket, e *Error, now int64) {
	ra := min(int64(e.RetryAfter), p.cfg.maxPause)
	latest := now + ra
	earliest := latest
	if ra%wholeSecond == 0 {
		// Whole seconds, rounded up: the pause may end up to a second
		// earlier.
		earliest = latest - wholeSecond + 1
	}
	if until := p.until.Load(); now < until {
		// A pause is in force, and this answer was sent before it began:
		// both speak of the same reset, so it lies in both ranges.
		if lo, hi := max(p.earliest, earliest), min(until, latest); lo <= hi {
			earliest, latest = lo, hi
		} else if until > latest {
			earliest, latest = p.earliest, until // they disagree: keep the later
		}
	}
	w := p.word.Load()
	if e.StatusCode == 429 && isConnectionLimit(e.Reason) && t.gen == gen(w) {
		// The token's window is spent: what Notion accepted in it is the
		// budget, and the next window starts when the pause ends. That is
		// learnt only from a window the pacer saw from its start: Notion's
		// began about RetryAfter-Window from now, and if that is before
		// this pacer's window began, requests it did not see (an earlier
		// process, another replica) spent part of the budget.
		// Retry-After comes in whole seconds: allow for that too.
		start := p.start.Load()
		slack := p.cfg.margin + min(wholeSecond, p.cfg.window/10)
		if latest-p.cfg.window >= start-slack {
			if gen(p.word.Load()) == t.gen {
				// Answers arrive in any order: successes of this window that
				// come after the 429 still count (see accepted), so the
				// window is remembered even when none has come yet.
				n := p.acc.count(t.gen)
				p.taught, p.taughtGen = int32(n), t.gen
				if p.cfg.budget == 0 && n > 0 {
					p.limit.Store(int32(n))
				}
			}
			// The window ends a window after it began: with a
			// Retry-After in whole seconds, that is the sharper bound.
			if p.answered.Load() != 0 {
				if bound := p.windowStart() + p.cfg.window + p.cfg.margin; bound >= earliest && bound < latest {
					latest = bound
				}
			}
		}
		p.full = 0
		p.setPause(earliest, latest, now)
		// The next window begins with its first request, once the pause
		// is over (see roll).
		p.begin(0, gen(w)+1)
	} else {
		p.setPause(earliest, latest, now)
	}
	if p.q != nil && len(p.q.w) > 0 {
		p.schedule(now)
	}
}

// clear ends the pause at once and lets the waiting requests go.
func (p *pacer) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until.Store(0)
	p.earliest = 0
	p.release(p.cfg.now())
}

// setPause makes the pause end at latest, at the earliest at earliest.
// Caller holds mu.
func (p *pacer) setPause(earliest, latest, now int64) {
	if latest <= now {
		return
	}
	p.earliest = earliest
	p.until.Store(latest)
}

// idle reports whether the pacer holds nothing worth keeping: no waiter,
// no pause, no use for idleWindows windows. A forgotten pacer relearns
// its budget.
func (p *pacer) idle(now int64) bool {
	return p.waiting.Load() == 0 && now >= p.until.Load() && now-p.used.Load() > idleWindows*p.cfg.window
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
