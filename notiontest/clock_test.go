package notiontest_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

// clock is notionauth.Clock's method set, restated here because notiontest
// may not import notionauth (bench asserts the real interface).
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

var _ clock = (*notiontest.Clock)(nil)

var epoch = time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC)

// firing records the order timers fired in and the clock's time as each ran.
type firing struct {
	mu  sync.Mutex // guards got
	got []string
}

func (r *firing) add(c *notiontest.Clock, name string) func() {
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, fmt.Sprintf("%s@%v", name, c.Now().Sub(epoch)))
	}
}

func (r *firing) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestNewClock(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(epoch)
	assert.True(t, c.Now().Equal(epoch), "got %v, want %v", c.Now(), epoch)

	before := time.Now()
	now := notiontest.NewClock(time.Time{}).Now()
	assert.False(t, now.Before(before), "a zero start is time.Now(): got %v, want at least %v", now, before)
	assert.Less(t, now.Sub(before), time.Minute, "got %v, want about %v", now, before)
	time.Sleep(2 * time.Millisecond)
	assert.True(t, c.Now().Equal(epoch), "real time does not move a Clock: got %v", c.Now())

	var zero notiontest.Clock
	assert.True(t, zero.Now().IsZero(), "the zero Clock stands at the zero time: got %v", zero.Now())
	fired := false
	zero.AfterFunc(time.Second, func() { fired = true })
	zero.Advance(time.Second)
	assert.True(t, fired, "the zero Clock's timers fire")
	assert.Equal(t, time.Time{}.Add(time.Second), zero.Now())
}

func TestClockAdvanceOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timers  []time.Duration // created in this order, named t0, t1, ...
		advance []time.Duration
		want    []string
		pending int
	}{
		{
			name:    "earliest first",
			timers:  []time.Duration{3 * time.Second, time.Second, 2 * time.Second},
			advance: []time.Duration{5 * time.Second},
			want:    []string{"t1@1s", "t2@2s", "t0@3s"},
		},
		{
			name:    "ties in creation order",
			timers:  []time.Duration{time.Second, 500 * time.Millisecond, time.Second, time.Second},
			advance: []time.Duration{time.Second},
			want:    []string{"t1@500ms", "t0@1s", "t2@1s", "t3@1s"},
		},
		{
			name:    "only what is due",
			timers:  []time.Duration{time.Second, 2 * time.Second, 3 * time.Second},
			advance: []time.Duration{1500 * time.Millisecond, 499 * time.Millisecond, time.Millisecond},
			want:    []string{"t0@1s", "t1@2s"},
			pending: 1,
		},
		{
			name:    "nothing due",
			timers:  []time.Duration{time.Minute},
			advance: []time.Duration{59 * time.Second},
			pending: 1,
		},
		{
			name:    "due now fires at the next advance, even of zero",
			timers:  []time.Duration{0, -time.Second, time.Nanosecond},
			advance: []time.Duration{0},
			want:    []string{"t0@0s", "t1@0s"},
			pending: 1,
		},
		{
			name:    "a negative advance is zero",
			timers:  []time.Duration{0, time.Second},
			advance: []time.Duration{-time.Hour},
			want:    []string{"t0@0s"},
			pending: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := notiontest.NewClock(epoch)
			var r firing
			for i, d := range tt.timers {
				c.AfterFunc(d, r.add(c, fmt.Sprintf("t%d", i)))
			}
			var total time.Duration
			for _, d := range tt.advance {
				c.Advance(d)
				total += max(d, 0)
			}
			assert.Equal(t, tt.want, r.list(), "timers fired (name@time they saw)")
			assert.Equal(t, tt.pending, c.Pending(), "pending timers")
			assert.Equal(t, epoch.Add(total), c.Now(), "the clock ends at start + the advances")
		})
	}
}

func TestClockAdvanceBeforeTimerCreated(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(epoch)
	c.Advance(time.Minute)
	fired := false
	c.AfterFunc(time.Second, func() { fired = true })
	c.Advance(999 * time.Millisecond)
	assert.False(t, fired, "a timer is due d after its creation, not after the clock's start")
	c.Advance(time.Millisecond)
	assert.True(t, fired)
}

func TestClockStop(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(epoch)
	var fired atomic.Int32
	stopA := c.AfterFunc(time.Second, func() { fired.Add(1) })
	stopB := c.AfterFunc(time.Second, func() { fired.Add(10) })
	require.Equal(t, 2, c.Pending())

	assert.True(t, stopA(), "stop before firing: got false, want true")
	assert.False(t, stopA(), "a second stop: got true, want false")
	assert.Equal(t, 1, c.Pending(), "a stopped timer is not pending")

	c.Advance(time.Second)
	assert.Equal(t, int32(10), fired.Load(), "only the timer not stopped fires")
	assert.False(t, stopB(), "stop after firing: got true, want false")
	assert.Zero(t, c.Pending())

	c.Advance(time.Hour)
	assert.Equal(t, int32(10), fired.Load(), "a timer fires once")
}

func TestClockCallbacks(t *testing.T) {
	t.Parallel()

	t.Run("a callback schedules timers", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		var r firing
		c.AfterFunc(time.Second, func() {
			r.add(c, "first")()
			c.AfterFunc(time.Second, r.add(c, "due within"))   // at 2s
			c.AfterFunc(0, r.add(c, "due now"))                // at 1s
			c.AfterFunc(10*time.Second, r.add(c, "due after")) // at 11s
		})
		c.AfterFunc(1500*time.Millisecond, r.add(c, "other"))
		c.Advance(3 * time.Second)
		assert.Equal(t, []string{"first@1s", "due now@1s", "other@1.5s", "due within@2s"}, r.list())
		assert.Equal(t, 1, c.Pending(), "the timer due after the advance waits")
		d, ok := c.AdvanceToNext()
		assert.True(t, ok)
		assert.Equal(t, 8*time.Second, d, "from 3s to 11s")
		assert.Equal(t, "due after@11s", r.list()[4])
	})

	t.Run("a callback stops a later timer", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		var r firing
		var stopLater func() bool
		var stopped bool
		c.AfterFunc(time.Second, func() { stopped = stopLater() })
		stopLater = c.AfterFunc(2*time.Second, r.add(c, "later"))
		c.Advance(time.Minute)
		assert.True(t, stopped, "stop from a callback: got false, want true")
		assert.Empty(t, r.list(), "the stopped timer did not fire")
	})

	t.Run("a callback stops itself", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		var stop func() bool
		var stopped = true
		stop = c.AfterFunc(time.Second, func() { stopped = stop() })
		c.Advance(time.Second)
		assert.False(t, stopped, "stop while f runs: got true, want false")
	})

	t.Run("a callback reschedules itself", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		var r firing
		var tick func()
		n := 0
		tick = func() {
			r.add(c, "tick")()
			if n++; n < 5 {
				c.AfterFunc(time.Second, tick)
			}
		}
		c.AfterFunc(time.Second, tick)
		c.Advance(3 * time.Second)
		assert.Equal(t, []string{"tick@1s", "tick@2s", "tick@3s"}, r.list())
		c.Advance(time.Hour)
		assert.Len(t, r.list(), 5)
		assert.Zero(t, c.Pending())
	})
}

func TestClockAdvanceToNext(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(epoch)
	d, ok := c.AdvanceToNext()
	assert.False(t, ok, "no timer: got true, want false")
	assert.Zero(t, d)
	assert.Equal(t, epoch, c.Now(), "no timer: the clock does not move")

	var r firing
	c.AfterFunc(2*time.Second, r.add(c, "a"))
	c.AfterFunc(2*time.Second, r.add(c, "b"))
	c.AfterFunc(5*time.Second, r.add(c, "c"))
	d, ok = c.AdvanceToNext()
	assert.True(t, ok)
	assert.Equal(t, 2*time.Second, d)
	assert.Equal(t, []string{"a@2s", "b@2s"}, r.list(), "every timer due at that time")
	assert.Equal(t, epoch.Add(2*time.Second), c.Now())

	d, ok = c.AdvanceToNext()
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, d)
	assert.Equal(t, epoch.Add(5*time.Second), c.Now())

	c.AfterFunc(-time.Second, r.add(c, "overdue"))
	d, ok = c.AdvanceToNext()
	assert.True(t, ok)
	assert.Zero(t, d, "a timer due now: got %v, want 0", d)
	assert.Equal(t, []string{"a@2s", "b@2s", "c@5s", "overdue@5s"}, r.list())
}

func TestClockWaitPending(t *testing.T) {
	t.Parallel()

	t.Run("wakes at the nth timer", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		const n = 8
		var done sync.WaitGroup
		for range n {
			done.Add(1)
			go func() {
				defer done.Done()
				fired := make(chan struct{})
				c.AfterFunc(time.Minute, func() { close(fired) })
				<-fired
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.WaitPending(ctx, n))
		assert.Equal(t, n, c.Pending())
		c.Advance(time.Minute)
		done.Wait()
		assert.Zero(t, c.Pending())
	})

	t.Run("already pending", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		c.AfterFunc(time.Second, func() {})
		require.NoError(t, c.WaitPending(context.Background(), 1))
		require.NoError(t, c.WaitPending(context.Background(), 0))
	})

	t.Run("ctx cancelled", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		c.AfterFunc(time.Second, func() {})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.WaitPending(ctx, 2) }()
		cancel()
		select {
		case err := <-errc:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Fatal("WaitPending did not return once ctx was cancelled")
		}
	})

	t.Run("ctx deadline", func(t *testing.T) {
		t.Parallel()
		c := notiontest.NewClock(epoch)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := c.WaitPending(ctx, 1)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "got %v", err)
	})
}

func TestClockConcurrent(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(epoch)
	const (
		workers = 8
		rounds  = 200
	)
	var fired, stopped atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				ch := make(chan struct{})
				stop := c.AfterFunc(time.Duration(1+i%3)*time.Millisecond, func() {
					fired.Add(1)
					close(ch)
				})
				if (w+i)%4 == 0 && stop() {
					stopped.Add(1)
					continue
				}
				_ = c.Now()
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// wctx ends WaitPending below once every worker is done.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done); wcancel() }()
	for {
		select {
		case <-done:
			assert.NoError(t, ctx.Err())
			assert.Equal(t, int64(workers*rounds), fired.Load()+stopped.Load(), "every timer fired or was stopped")
			assert.Zero(t, c.Pending())
			_ = c.String()
			return
		default:
		}
		if c.Pending() == 0 {
			_ = c.WaitPending(wctx, 1)
		}
		if _, ok := c.AdvanceToNext(); !ok {
			c.Advance(time.Millisecond)
		}
	}
}

func TestClockString(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(epoch)
	assert.Equal(t, "2026-03-11 09:00:00 +0000 UTC", c.String())
	assert.Equal(t, "2026-03-11 09:00:00 +0000 UTC", fmt.Sprint(c), "printing a *Clock shows its time")
	c.Advance(90 * time.Second)
	assert.Equal(t, "2026-03-11 09:01:30 +0000 UTC", fmt.Sprintf("%v", c))

	real := notiontest.NewClock(time.Time{})
	assert.NotContains(t, real.String(), "m=", "no monotonic clock reading")
}

func TestClockAutoAdvance(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(time.Time{})
	start := c.Now()
	stop := c.AutoAdvance(0)
	defer stop()
	fired := make(chan time.Time, 1)
	c.AfterFunc(time.Hour, func() { fired <- c.Now() })
	select {
	case at := <-fired:
		assert.Equal(t, time.Hour, at.Sub(start), "moved to the timer, not past it")
	case <-time.After(10 * time.Second):
		t.Fatal("the clock did not move by itself")
	}
	stop()
	stop() // twice is fine
	c.AfterFunc(time.Minute, func() { t.Error("fired after stop") })
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, 1, c.Pending())
}

func TestClockAutoAdvanceWaitsForQuiet(t *testing.T) {
	t.Parallel()
	c := notiontest.NewClock(time.Time{})
	stop := c.AutoAdvance(50 * time.Millisecond)
	defer stop()
	c.AfterFunc(time.Minute, func() {})
	// Something happens every few milliseconds: the clock stays put.
	for range 10 {
		c.AfterFunc(time.Hour, func() {})()
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, 1, c.Pending(), "nothing fired while busy")
	require.NoError(t, c.WaitPending(context.Background(), 1))
	assert.Eventually(t, func() bool { return c.Pending() == 0 }, 10*time.Second, time.Millisecond, "fired once quiet")
}
