package notionauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults used for the zero fields of a [RetryPolicy].
const (
	// DefaultMaxAttempts allows a call its first request and three more:
	// enough to ride out a 429 window or a short 5xx burst, few enough that
	// an outage fails fast.
	DefaultMaxAttempts = 4
	// DefaultMaxWait covers Notion's per-connection window and a second: a
	// Retry-After up to a minute, or a wait for the token's next window, is
	// worth sleeping through; a longer one (the workspace limit) is better
	// handed back to the app to reschedule.
	DefaultMaxWait = DefaultWindow + time.Second
	// DefaultBaseDelay is the first backoff's ceiling: long enough for a
	// gateway blip to pass, short enough not to be noticed.
	DefaultBaseDelay = 500 * time.Millisecond
	// DefaultMaxDelay caps one backoff: beyond it, an outage is better
	// reported than waited out.
	DefaultMaxDelay = 16 * time.Second
	// DefaultRetryRatio lets failure retries (5xx, network errors, 409s)
	// add at most a tenth to the traffic over time, so that an outage cannot
	// turn into a retry storm.
	DefaultRetryRatio = 0.1
	// DefaultRetryBurst is how many failure retries are available before
	// any calls have earned them: a short burst of errors is still retried.
	DefaultRetryBurst = 10
)

// maxRetryAfter caps a parsed Retry-After so that absurd values cannot
// overflow a time.Duration. Anything this long is beyond any MaxWait anyway.
const maxRetryAfter = 24 * time.Hour

// RetryPolicy says what a [Transport] retries and how long it waits. The
// zero value uses the defaults written on each field.
//
// What is retried:
//   - 429 (not public_api_request_blocked) and 529, for any method, since
//     Notion did not process the request: after exactly the Retry-After it
//     asked for (shared by all requests of the token, see [Pacing]), or
//     after a backoff when it gave none;
//   - 401, once with the token a [Refresher] Source gives instead, and
//     once with the same token when a probe finds it valid (see
//     [Transport]);
//   - 409 conflict_error, after a backoff;
//   - 500, 502, 503, 504 and network failures, after a backoff, only for
//     requests that are safe to repeat: GET, HEAD, OPTIONS, DELETE and
//     Notion's read-only POSTs (/v1/search, /v1/databases/{id}/query,
//     /v1/data_sources/{id}/query), or any request that never left (the
//     connection could not be made). A 503 that says a write may have been
//     committed (Reason [ReasonMaybeCommitted]) is never repeated;
//   - never: Blocked, PermissionLost, InvalidRequest, AuthRevoked.
//
// A request whose body cannot be rewound (no GetBody) is sent once.
// Backoffs use full jitter: a random wait between 0 and
// min(MaxDelay, BaseDelay·2^(attempt-1)).
type RetryPolicy struct {
	// MaxAttempts is the number of requests one call may send, the first
	// included, and the ones after a 401 too. 0 means DefaultMaxAttempts;
	// 1 means send once and never retry. Negative values are invalid.
	MaxAttempts int
	// MaxWait is the longest single wait before a retry, and the longest a
	// request waits for its token's pause or its next window (give or take
	// the pacer's margin of about a millisecond). A Retry-After beyond it
	// is not slept, nor one that cannot end before the request context's
	// deadline: the call returns ErrThrottled at once with RetryAfter set,
	// so the app can reschedule. Notion's Retry-After is in whole seconds,
	// rounded up, so n seconds may end after n-1: a deadline after that is
	// waited for, and if the wait outlasts it the call returns ErrThrottled
	// then. 0 means DefaultMaxWait. Negative values are invalid.
	MaxWait time.Duration
	// BaseDelay is the ceiling of the first backoff. 0 means
	// DefaultBaseDelay. Negative values are invalid.
	BaseDelay time.Duration
	// MaxDelay caps every backoff. 0 means DefaultMaxDelay. Negative
	// values are invalid.
	MaxDelay time.Duration
	// RetryRatio is the retry budget: failure retries (5xx, network, 409,
	// and the resend after a 401 the probe found spurious) may add at most
	// this fraction of the requests sent, over time. 0 means
	// DefaultRetryRatio; a negative value means no budget. Waits Notion
	// asked for (429, 529) are not counted, since the pause already keeps
	// them from piling up, nor the resend with a refreshed token, which
	// fixed what was wrong.
	RetryRatio float64
	// RetryBurst is how many failure retries the budget holds at most, and
	// holds at first. 0 means DefaultRetryBurst. Negative values are
	// invalid.
	RetryBurst int
}

func (p RetryPolicy) maxAttempts() int { return orDefault(p.MaxAttempts, DefaultMaxAttempts) }

func (p RetryPolicy) maxWait() time.Duration { return orDefault(p.MaxWait, DefaultMaxWait) }

func (p RetryPolicy) baseDelay() time.Duration { return orDefault(p.BaseDelay, DefaultBaseDelay) }

func (p RetryPolicy) maxDelay() time.Duration { return orDefault(p.MaxDelay, DefaultMaxDelay) }

func (p RetryPolicy) retryRatio() float64 { return orDefault(p.RetryRatio, DefaultRetryRatio) }

func (p RetryPolicy) retryBurst() int { return orDefault(p.RetryBurst, DefaultRetryBurst) }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// validate reports a policy that cannot be honoured.
func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 0:
		return fmt.Errorf("RetryPolicy.MaxAttempts is %d, want 0 (default) or more", p.MaxAttempts)
	case p.MaxWait < 0:
		return fmt.Errorf("RetryPolicy.MaxWait is %v, want 0 (default) or more", p.MaxWait)
	case p.BaseDelay < 0:
		return fmt.Errorf("RetryPolicy.BaseDelay is %v, want 0 (default) or more", p.BaseDelay)
	case p.MaxDelay < 0:
		return fmt.Errorf("RetryPolicy.MaxDelay is %v, want 0 (default) or more", p.MaxDelay)
	case p.RetryBurst < 0:
		return fmt.Errorf("RetryPolicy.RetryBurst is %d, want 0 (default) or more", p.RetryBurst)
	case math.IsNaN(p.RetryRatio):
		return fmt.Errorf("RetryPolicy.RetryRatio is NaN")
	}
	return nil
}

// backoff is the full-jitter wait before attempt n+1.
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.maxDelay()
	if d := p.baseDelay(); n < 32 && d < ceiling>>(n-1) {
		ceiling = d << (n - 1)
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// retry is the verdict on a failed attempt other than a 401: wait and
// send again, or stop with e.
func (c *call) retry(e *Error) (time.Duration, *Error) {
	p := c.t.Retry
	if c.ctx.Err() != nil {
		return 0, c.ended()
	}
	if !c.mayResend() {
		return 0, e
	}
	now := c.st.clock.Now()
	var wait time.Duration
	switch e.Kind {
	case Throttled:
		if e.RetryAfter > 0 {
			// Whole seconds are rounded up: the wait may end up to a
			// second sooner, and a deadline after that is worth waiting for.
			if e.RetryAfter > p.maxWait() || beyondDeadline(c.ctx, now, earliestEnd(e.RetryAfter)) {
				return 0, e
			}
			wait = e.RetryAfter
			if c.tok != nil && c.tok.pace != nil {
				wait = 0 // the pace holds the next attempt until the pause is over
			}
			c.again(e, wait, "")
			return wait, nil
		}
		// No Retry-After: back off, without drawing on the budget (Notion
		// did not process the request).
		wait = p.backoff(c.n)
		if beyondDeadline(c.ctx, now, wait) {
			return 0, e
		}
		c.again(e, wait, "")
		return wait, nil
	case Conflict:
	case Unavailable:
		if e.Reason == ReasonMaybeCommitted || !idempotent(c.req.Method, c.req.URL.Path) && !neverSent(e.Err) {
			return 0, e
		}
	default:
		return 0, e
	}
	wait = p.backoff(c.n)
	if beyondDeadline(c.ctx, now, wait) || !c.st.budget.take(c.st.requests.Load(), p.retryRatio(), p.retryBurst()) {
		return 0, e
	}
	if e.StatusCode == 0 || e.StatusCode >= 502 && e.StatusCode <= 504 {
		c.st.freshConnections()
	}
	c.again(e, wait, "")
	return wait, nil
}

// earliestEnd is the shortest wait a Retry-After of d may mean: Notion
// rounds its seconds up, so a whole number of seconds n means a wait in
// (n-1, n] seconds.
func earliestEnd(d time.Duration) time.Duration {
	if d%time.Second == 0 {
		return d - time.Second + 1
	}
	return d
}

// beyondDeadline reports whether ctx's deadline passes within wait of now.
func beyondDeadline(ctx context.Context, now time.Time, wait time.Duration) bool {
	left, ok := leftBefore(ctx, now)
	return ok && left <= wait
}

// rewindable reports whether req's body can be sent again.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// idempotent reports whether a request may be repeated safely: the
// idempotent methods, and Notion's POSTs that only read.
func idempotent(method, path string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodTrace:
		return true
	case http.MethodPost:
		return readOnlyPost(path)
	}
	return false
}

// readOnlyPost reports whether path is one of Notion's read-only POSTs:
// /v1/search, /v1/databases/{id}/query, /v1/data_sources/{id}/query (also
// behind a proxy's path prefix).
func readOnlyPost(path string) bool {
	i := strings.Index(path, "/v1/")
	if i < 0 {
		return false
	}
	rest := strings.Trim(path[i+len("/v1/"):], "/")
	if rest == "search" {
		return true
	}
	kind, rest, ok := strings.Cut(rest, "/")
	if !ok || kind != "databases" && kind != "data_sources" {
		return false
	}
	id, op, ok := strings.Cut(rest, "/")
	return ok && id != "" && op == "query"
}

// neverSent reports whether err proves the request never reached the
// server (the connection could not be made), so that repeating it is safe
// whatever its method.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// retryBudget is a token bucket of failure retries, refilled by the
// requests sent. It is safe for concurrent use.
type retryBudget struct {
	mu     sync.Mutex // guards the fields below
	tokens float64
	seen   int64 // requests counted at the last refill
	primed bool
}

// take spends one retry if the budget has one. sent is the number of
// requests sent so far.
func (b *retryBudget) take(sent int64, ratio float64, burst int) bool {
	if ratio < 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.primed {
		b.tokens, b.primed = float64(burst), true
	}
	b.tokens = min(float64(burst), b.tokens+ratio*float64(sent-b.seen))
	b.seen = sent
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

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
