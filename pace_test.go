package notionauth

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

func (p *pacer) queued() int { return int(p.waiting.Load()) }

func (p *pacer) budget() int { return int(p.limit.Load()) }

func (p *pacer) margin() time.Duration { return time.Duration(p.cfg.margin) }

func newTestPacer(c Clock, cfg Pacing) *pacer { return newPacer(newPaceConfig(c, cfg)) }

const forever = time.Hour

func throttled(retryAfter time.Duration) *Error {
	return &Error{Kind: Throttled, StatusCode: 429, Code: CodeRateLimited, Reason: ReasonRequestRateLimit, RetryAfter: retryAfter}
}

// mustAcquire takes a turn that must be free at once.
func mustAcquire(t *testing.T, p *pacer) ticket {
	t.Helper()
	tk, waited, err := p.acquire(context.Background(), forever)
	require.NoError(t, err)
	require.Zero(t, waited, "the turn should have been free")
	return tk
}

// waitInLine starts n acquires, one after the other (so their arrival order
// is known), and returns a channel that gets their indexes as they are let
// through.
func waitInLine(t *testing.T, p *pacer, n int) <-chan int {
	t.Helper()
	out := make(chan int, n)
	base := p.queued()
	for i := range n {
		go func() {
			_, _, err := p.acquire(context.Background(), forever)
			assert.NoError(t, err)
			out <- i
		}()
		require.Eventually(t, func() bool { return p.queued() == base+i+1 }, 5*time.Second, time.Millisecond)
	}
	return out
}

// drainN returns the indexes of the next n waiters let through, sorted:
// the pacer lets them through in arrival order, but the goroutines report
// in whatever order they are scheduled.
func drainN(t *testing.T, ch <-chan int, n int) []int {
	t.Helper()
	got := make([]int, 0, n)
	for range n {
		select {
		case i := <-ch:
			got = append(got, i)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d waiters were let through: %v", len(got), n, got)
		}
	}
	slices.Sort(got)
	return got
}

func assertNoneReady(t *testing.T, ch <-chan int) {
	t.Helper()
	select {
	case i := <-ch:
		t.Fatalf("waiter %d was let through too early", i)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestPacerOpenByDefault(t *testing.T) {
	t.Parallel()
	p := newTestPacer(notiontest.NewClock(time.Time{}), Pacing{})
	for range 100 {
		mustAcquire(t, p)
	}
	assert.Zero(t, p.budget(), "nothing learnt without a 429")
}

func TestPacerSharedPauseReleasesInArrivalOrder(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: 10 * time.Second})
	tk := mustAcquire(t, p)
	p.done(tk, throttled(time.Second))

	line := waitInLine(t, p, 6)
	assertNoneReady(t, line)
	clk.Advance(999 * time.Millisecond)
	assertNoneReady(t, line)
	clk.Advance(time.Millisecond)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, drainN(t, line, 6))
}

func TestPacerLearnsBudgetAndSpendsIt(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	window := time.Second
	p := newTestPacer(clk, Pacing{Window: window})
	var last ticket
	for range 5 {
		last = mustAcquire(t, p)
		p.done(last, nil)
	}
	sixth := mustAcquire(t, p)
	clk.Advance(600 * time.Millisecond)
	p.done(sixth, throttled(400*time.Millisecond)) // the window ends 1 s after it began
	assert.Equal(t, 5, p.budget(), "what Notion accepted in the throttled window")

	// The pause ends the window; the next one allows exactly 5.
	line := waitInLine(t, p, 8)
	clk.Advance(400 * time.Millisecond)
	first := drainN(t, line, 5)
	assert.Equal(t, []int{0, 1, 2, 3, 4}, first)
	assertNoneReady(t, line)
	// The rest go at the predicted end of that window (plus the margin).
	clk.Advance(window)
	assertNoneReady(t, line)
	clk.Advance(p.margin())
	assert.Equal(t, []int{5, 6, 7}, drainN(t, line, 3))
}

func TestPacerLateAnswersRaiseBudget(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: time.Second})
	tickets := make([]ticket, 6)
	for i := range tickets {
		tickets[i] = mustAcquire(t, p)
	}
	for _, tk := range tickets[:3] {
		p.done(tk, nil)
	}
	p.done(tickets[5], throttled(time.Second)) // the 429 overtook two successes
	assert.Equal(t, 3, p.budget())
	p.done(tickets[3], nil)
	p.done(tickets[4], nil)
	assert.Equal(t, 5, p.budget())
}

func TestPacerLearnsWhenThe429ComesFirst(t *testing.T) {
	t.Parallel()
	// More requests in flight than the budget: the 429 can be the first
	// answer of its window to come back.
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: time.Second})
	tickets := make([]ticket, 12)
	for i := range tickets {
		tickets[i] = mustAcquire(t, p)
	}
	p.done(tickets[11], throttled(time.Second))
	assert.Zero(t, p.budget(), "nothing accepted yet")
	for _, tk := range tickets[:10] {
		p.done(tk, nil)
	}
	p.done(tickets[10], throttled(time.Second))
	assert.Equal(t, 10, p.budget())

	line := waitInLine(t, p, 12)
	clk.Advance(time.Second)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, drainN(t, line, 10))
	assertNoneReady(t, line)
}

func TestPacerUnseenWindowTeachesNothing(t *testing.T) {
	t.Parallel()
	// A 429 whose window began before the pacer's first request (another
	// process spent part of it) says nothing about the budget.
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{}) // Notion's minute
	for range 3 {
		p.done(mustAcquire(t, p), nil)
	}
	clk.Advance(5 * time.Second)
	p.done(mustAcquire(t, p), throttled(time.Second))
	assert.Zero(t, p.budget())
	clk.Advance(time.Second)
	for range 20 {
		mustAcquire(t, p) // no budget: the calls go on after the pause
	}
}

func TestPacerLearnsFromTheFirstWholeWindow(t *testing.T) {
	t.Parallel()
	// Notion's minute began 20 s before the pacer's first request: that
	// window teaches nothing; the next one, which the pacer sees from its
	// start, does, although the whole-second Retry-After ends it up to a
	// second late.
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{})
	for range 3 {
		p.done(mustAcquire(t, p), nil)
	}
	clk.Advance(10 * time.Second)
	p.done(mustAcquire(t, p), throttled(30*time.Second))
	assert.Zero(t, p.budget(), "the first window was not seen whole")

	clk.Advance(30 * time.Second)
	for range 7 {
		p.done(mustAcquire(t, p), nil)
	}
	clk.Advance(30 * time.Second)
	p.done(mustAcquire(t, p), throttled(31*time.Second))
	assert.Equal(t, 7, p.budget())
}

func TestPacerOtherLimitsPauseButTeachNothing(t *testing.T) {
	t.Parallel()
	for _, e := range []*Error{
		{Kind: Throttled, StatusCode: 429, Reason: ReasonSpaceRateLimit, RetryAfter: time.Second},
		{Kind: Throttled, StatusCode: 429, Reason: ReasonEndpointRateLimit, RetryAfter: time.Second},
		{Kind: Throttled, StatusCode: 529, Code: CodeServiceOverload, RetryAfter: time.Second},
	} {
		clk := notiontest.NewClock(time.Time{})
		p := newTestPacer(clk, Pacing{})
		for range 3 {
			p.done(mustAcquire(t, p), nil)
		}
		p.done(mustAcquire(t, p), e)
		assert.Zero(t, p.budget(), "%s %s", e.Code, e.Reason)
		line := waitInLine(t, p, 1)
		assertNoneReady(t, line)
		clk.Advance(time.Second)
		drainN(t, line, 1)
	}
}

func TestPacerConfiguredBudget(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Budget: 3, Window: time.Second})
	for range 3 {
		p.done(mustAcquire(t, p), nil)
	}
	line := waitInLine(t, p, 4)
	clk.Advance(time.Second + p.margin())
	assert.Equal(t, []int{0, 1, 2}, drainN(t, line, 3))
	// A 429 pauses but does not change a budget the app set.
	p.done(ticket{gen: gen(p.word.Load())}, throttled(2*time.Second))
	assert.Equal(t, 3, p.budget())
	clk.Advance(2 * time.Second)
	drainN(t, line, 1)
}

func TestPacerTriesHigherBudgetAfterFullWindows(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: time.Second})
	for range 8 {
		p.done(mustAcquire(t, p), nil)
	}
	p.done(mustAcquire(t, p), throttled(time.Second))
	require.Equal(t, 8, p.budget())
	clk.Advance(time.Second)
	for range growAfter + 1 {
		for range p.budget() {
			p.done(mustAcquire(t, p), nil)
		}
		clk.Advance(time.Second + p.margin())
	}
	mustAcquire(t, p) // rolls the last full window
	assert.Equal(t, 9, p.budget(), "one step up after %d full windows", growAfter)
}

func TestPacerWaitTooLong(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{})
	p.done(mustAcquire(t, p), throttled(30*time.Second))

	_, wait, err := p.acquire(context.Background(), 10*time.Second)
	assert.ErrorIs(t, err, errWaitTooLong)
	assert.Equal(t, 30*time.Second, wait)

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second))
	defer cancel()
	_, _, err = p.acquire(ctx, forever)
	assert.ErrorIs(t, err, errWaitTooLong, "a wait beyond the deadline is not started")
	assert.Zero(t, p.queued())
}

func TestPacerCancelledWaiterLeavesTheLine(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{})
	p.done(mustAcquire(t, p), throttled(time.Second))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.acquire(ctx, forever)
		errc <- err
	}()
	require.Eventually(t, func() bool { return p.queued() == 1 }, 5*time.Second, time.Millisecond)
	line := waitInLine(t, p, 2)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.Equal(t, 2, p.queued())
	clk.Advance(time.Second)
	assert.Equal(t, []int{0, 1}, drainN(t, line, 2))
}

func TestPacerIdle(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: time.Second})
	p.done(mustAcquire(t, p), throttled(5*time.Second))
	assert.False(t, p.idle(p.cfg.now()), "paused")
	clk.Advance(5 * time.Second)
	assert.False(t, p.idle(p.cfg.now()), "used %d windows ago", 5)
	clk.Advance(idleWindows * time.Second)
	assert.True(t, p.idle(p.cfg.now()))
}

func TestPacingValidate(t *testing.T) {
	t.Parallel()
	assert.NoError(t, Pacing{}.validate())
	assert.Error(t, Pacing{Budget: -1}.validate())
	assert.Error(t, Pacing{Window: -time.Second}.validate())
	assert.Equal(t, DefaultWindow, Pacing{}.window())
}

// TestPacerFastPathTakesNoLock: a request that finds its token neither
// paused nor out of budget, and its answer, never wait for the pacer's
// lock, which the slow path holds.
func TestPacerFastPathTakesNoLock(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Budget: 1000, Window: time.Minute})
	p.done(mustAcquire(t, p), nil) // the first request starts the window, under the lock

	p.mu.Lock()
	defer p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			tk, _, err := p.acquire(context.Background(), forever)
			if !assert.NoError(t, err) {
				return
			}
			p.done(tk, nil)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the fast path waited for the lock")
	}
}

// TestPacerPauseNarrowsWithWholeSeconds: 429s in whole seconds, rounded
// up, each say the reset falls in (n-1, n] seconds; the pause ends at the
// latest moment they all allow.
func TestPacerPauseNarrowsWithWholeSeconds(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: time.Hour}) // no window to anchor on
	tks := []ticket{mustAcquire(t, p), mustAcquire(t, p)}
	other := &Error{Kind: Throttled, StatusCode: 429, Reason: ReasonSpaceRateLimit, RetryAfter: 3 * time.Second}
	p.done(tks[0], other) // the reset is in (2 s, 3 s]
	clk.Advance(600 * time.Millisecond)
	late := *other
	late.RetryAfter = 2 * time.Second
	p.done(tks[1], &late) // in (1.6 s, 2.6 s] from the start: now (2 s, 2.6 s]

	line := waitInLine(t, p, 1)
	clk.Advance(1999 * time.Millisecond) // 2.599 s
	assertNoneReady(t, line)
	clk.Advance(time.Millisecond)
	drainN(t, line, 1)
}

// TestPacerDeadlineAgainstTheEarliestReset: a call fails at once only
// when its deadline falls before the pause can possibly end; otherwise it
// waits, and returns context.DeadlineExceeded on the pacer's clock if the
// pause outlasts it.
func TestPacerDeadlineAgainstTheEarliestReset(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	p := newTestPacer(clk, Pacing{Window: time.Hour})
	p.done(mustAcquire(t, p), throttled(10*time.Second)) // ends in (9 s, 10 s]

	soon, cancel := context.WithDeadline(context.Background(), clk.Now().Add(8*time.Second))
	defer cancel()
	_, wait, err := p.acquire(soon, forever)
	assert.ErrorIs(t, err, errWaitTooLong, "8 s is before the earliest end")
	assert.Equal(t, 10*time.Second, wait)

	between, cancel2 := context.WithDeadline(context.Background(), clk.Now().Add(9500*time.Millisecond))
	defer cancel2()
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.acquire(between, forever)
		errc <- err
	}()
	require.Eventually(t, func() bool { return p.queued() == 1 }, 5*time.Second, time.Millisecond, "9.5 s may be after the end: it waits")
	clk.Advance(9 * time.Second)
	select {
	case err := <-errc:
		t.Fatalf("returned before its deadline: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(500 * time.Millisecond)
	assert.ErrorIs(t, <-errc, context.DeadlineExceeded, "its deadline passed on the pacer's clock")
	assert.Zero(t, p.queued(), "it left the line")
}

// TestPacerTableForgetsIdlePacers: a token unused for idleWindows windows
// is forgotten by a later sweep, whose cost is spread over new tokens; a
// bearer that still holds a forgotten pacer looks it up again.
func TestPacerTableForgetsIdlePacers(t *testing.T) {
	t.Parallel()
	clk := notiontest.NewClock(time.Time{})
	cfg := newPaceConfig(clk, Pacing{Window: time.Second})
	tab := &pacerTable{cfg: cfg}
	const n = 10000
	for k := range uint64(n) {
		p := tab.get(k)
		p.touch(cfg.now())
	}
	require.Equal(t, n, tab.len())
	kept := tab.get(1)
	clk.Advance((idleWindows + 1) * time.Second)
	kept.touch(cfg.now())
	for k := uint64(n); k < 3*n; k++ {
		tab.get(k).touch(cfg.now())
	}
	assert.Less(t, tab.len(), 3*n, "idle pacers are forgotten")
	assert.Same(t, kept, tab.get(1), "a pacer in use is kept")
	assert.True(t, tab.get(n+1) != nil)
	forgotten := 0
	for k := uint64(2); k < n; k++ {
		s := &tab.t.shards[k%tableShards]
		s.mu.RLock()
		if s.m[k] == nil {
			forgotten++
		}
		s.mu.RUnlock()
	}
	assert.Greater(t, forgotten, n/2, "most idle ones are gone")
}

func TestBearerLooksUpAForgottenPacerAgain(t *testing.T) {
	t.Parallel()
	tr := &Transport{}
	st := tr.state()
	b, _ := st.bearerFor(testToken)
	b.pace.dead.Store(true) // as a sweep leaves it
	s := &st.pacers.t.shards[b.key%tableShards]
	s.mu.Lock()
	delete(s.m, b.key)
	s.mu.Unlock()
	again, _ := st.bearerFor(testToken)
	assert.NotSame(t, b.pace, again.pace, "a new pacer, in the table")
	assert.Same(t, again.pace, st.pacers.get(b.key))
}

func TestPacerLayout(t *testing.T) {
	t.Parallel()
	// See pacer: two cache lines, the counter in the second.
	assert.EqualValues(t, 128, unsafe.Sizeof(pacer{}))
	assert.EqualValues(t, 64, unsafe.Offsetof(pacer{}.acc))
}

func TestTallyCountsUnderContention(t *testing.T) {
	t.Parallel()
	var tl tally
	tl.reset(7)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				assert.True(t, tl.add(7))
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 80000, tl.count(7), "every answer counted, in one word or in stripes")
	assert.False(t, tl.add(6), "an older window is not counted")
	tl.reset(8)
	assert.Zero(t, tl.count(8), "a new window starts from nothing, stripes included")
	assert.True(t, tl.add(8))
	assert.EqualValues(t, 1, tl.count(8))
	assert.Zero(t, tl.count(7))
}
