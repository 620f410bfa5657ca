package notionauth

import (
	"context"
	"time"
)

// Clock is a source of time. A [Transport] reads every time it needs from
// one Clock: its pacing windows and pauses, its backoffs, the HTTP-date
// form of Retry-After, and how long a call's context deadline leaves.
//
// Now returns the current time. AfterFunc calls f, in a goroutine of its
// own, once d has passed, and returns a function that stops the timer and
// reports whether it stopped it before f was called. Implementations must
// be safe for concurrent use.
//
// The system clock is the default. notiontest.Clock is a manual Clock for
// tests: give the same one to a Transport and to a notiontest.Server, and
// waits of minutes take no time at all.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// systemClock is the Clock of the operating system.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// sleep waits d on c, or until ctx is done or its deadline has passed on
// c, whichever comes first. It reports whether d passed. The deadline is
// checked on c, not only through ctx.Done, so that a manual clock ends a
// wait at the deadline too.
func sleep(ctx context.Context, c Clock, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	end := d
	if dl, ok := ctx.Deadline(); ok {
		if left := dl.Sub(c.Now()); left < end {
			if left <= 0 {
				return false
			}
			end = left
		}
	}
	fired := make(chan struct{})
	stop := c.AfterFunc(end, func() { close(fired) })
	select {
	case <-fired:
		return end == d && ctx.Err() == nil
	case <-ctx.Done():
		stop()
		return false
	}
}

// leftBefore reports how long ctx's deadline leaves at now on the caller's
// clock, and whether it has one.
func leftBefore(ctx context.Context, now time.Time) (time.Duration, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return dl.Sub(now), true
}
