package notionauth

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults used for the zero fields of a [RetryPolicy].
const (
	// DefaultMaxAttempts allows a call its first request and three more:
	// enough to ride out a 429 window or a short 5xx burst, few enough that
	// an outage fails fast.
	DefaultMaxAttempts = 4
	// DefaultMaxWait is Notion's per-connection window: a Retry-After up to
	// a minute is worth sleeping through; a longer one (the workspace limit)
	// is better handed back to the app to reschedule.
	DefaultMaxWait = 60 * time.Second
)

// maxRetryAfter caps a parsed Retry-After so that absurd values cannot
// overflow a time.Duration. Anything this long is beyond any MaxWait anyway.
const maxRetryAfter = 24 * time.Hour

// RetryPolicy says how hard a [Transport] tries. The zero value uses the
// defaults written on each field.
type RetryPolicy struct {
	// MaxAttempts is the number of requests one call may send, the first
	// included. 0 means DefaultMaxAttempts; 1 means send once and never
	// retry. Negative values are invalid.
	MaxAttempts int
	// MaxWait is the longest single wait before a retry. A Retry-After
	// beyond it (or beyond the request context's deadline) is not slept:
	// the call returns ErrThrottled with RetryAfter set. 0 means
	// DefaultMaxWait. Negative values are invalid.
	MaxWait time.Duration
}

func (p RetryPolicy) maxAttempts() int {
	if p.MaxAttempts == 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

func (p RetryPolicy) maxWait() time.Duration {
	if p.MaxWait == 0 {
		return DefaultMaxWait
	}
	return p.MaxWait
}

// validate reports a policy that cannot be honoured.
func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 0:
		return fmt.Errorf("RetryPolicy.MaxAttempts is %d, want 0 (default) or more", p.MaxAttempts)
	case p.MaxWait < 0:
		return fmt.Errorf("RetryPolicy.MaxWait is %v, want 0 (default) or more", p.MaxWait)
	}
	return nil
}

// timeNow is the clock used to turn an HTTP-date Retry-After into a
// duration; tests replace it.
var timeNow = time.Now

// parseRetryAfter reads a Retry-After value: delta-seconds (Notion sends
// whole seconds; a decimal is accepted too) or an HTTP date, relative to
// now. A date in the past means 0. Empty, negative or malformed values are
// not ok. The result is capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[0]; c >= '0' && c <= '9' || c == '.' {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil && !isRangeErr(err) || math.IsNaN(secs) || secs < 0 {
			return 0, false
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter, true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
