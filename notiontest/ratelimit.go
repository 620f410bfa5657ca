package notiontest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Values of additional_data.rate_limit_reason in Notion's 429 answers.
const (
	ReasonRequestRateLimit  = "public_api_request_rate_limit"       // this connection's budget
	ReasonSpaceRateLimit    = "public_api_space_request_rate_limit" // the workspace's budget
	ReasonEndpointRateLimit = "public_api_endpoint_rate_limit"      // this endpoint's budget
	ReasonRequestBlocked    = "public_api_request_blocked"          // access restricted: retrying never helps
)

// RateLimit is a fixed-window request budget per token. The zero value
// disables the limit.
//
// Notion's window is a minute and its Retry-After is in whole seconds, so a
// client learns the reset to within 1/60 of the window. A test or benchmark
// that shrinks Window to a few seconds would lose that precision with whole
// seconds; PreciseRetryAfter keeps it by also sending the wait in
// milliseconds in the body.
type RateLimit struct {
	Budget int           // requests per window per token; 0: no limit
	Window time.Duration // 0: 60s, Notion's window
	Reason string        // rate_limit_reason of the 429s; "": ReasonRequestRateLimit
	// PreciseRetryAfter also reports the wait in additional_data.retry_after
	// with millisecond precision (e.g. "0.437"), while the Retry-After header
	// stays in whole seconds rounded up, as Notion sends it. It lets a test
	// or benchmark use a window of a few seconds and still give clients
	// Notion's relative precision (1 s in a 60 s window); clients that read
	// only the header are unaffected.
	PreciseRetryAfter bool
}

type window struct {
	start time.Time
	used  int
}

// SetRateLimit sets the per-token rate limit, starting every token afresh.
// A token's window starts at its first request and lasts Window; once it has
// used Budget requests, further requests in the window get 429 rate_limited
// with Retry-After set to the whole seconds (rounded up, at least 1) until
// the window ends, repeated in additional_data "retry_after" next to
// "rate_limit_reason" (in seconds with three decimals, rounded up to the
// millisecond, when PreciseRetryAfter is set), all counted on the server's
// clock ([Server.SetClock]). Requests answered 429 do not use the budget. Only
// authenticated API requests count: not faults, not 401s, not /v1/oauth/.
func (s *Server) SetRateLimit(rl RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = rl
	s.windows = map[string]*window{}
}

// admit spends one request of token's budget, or returns the 429 to answer
// and its headers.
func (s *Server) admit(token string) (*apiError, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rl := s.rateLimit
	if rl.Budget <= 0 {
		return nil, nil
	}
	length := rl.Window
	if length <= 0 {
		length = time.Minute
	}
	now := s.now()
	w := s.windows[token]
	if w == nil || now.Sub(w.start) >= length {
		w = &window{start: now}
		s.windows[token] = w
	}
	if w.used < rl.Budget {
		w.used++
		return nil, nil
	}
	reason := rl.Reason
	if reason == "" {
		reason = ReasonRequestRateLimit
	}
	left := w.start.Add(length).Sub(now)
	secs := strconv.Itoa(retryAfterSeconds(left))
	data := secs
	if rl.PreciseRetryAfter {
		data = retryAfterMillis(left)
	}
	return &apiError{http.StatusTooManyRequests, "rate_limited", defaultMessage("rate_limited"),
			map[string]any{"retry_after": data, "rate_limit_reason": reason}},
		http.Header{headerRetryAfter: {secs}}
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// retryAfterMillis is d in seconds with three decimals ("0.437"), rounded
// up to the millisecond, at least "0.001".
func retryAfterMillis(d time.Duration) string {
	ms := max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}
