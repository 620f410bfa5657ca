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

// RateLimit sets two fixed-window request budgets: one per token, and one
// per workspace shared by all the workspace's tokens. A zero budget
// disables its limit, so the zero value disables both.
//
// Notion's window is a minute and its Retry-After is in whole seconds, so a
// client learns the reset to within 1/60 of the window. A test or benchmark
// that shrinks Window to a few seconds would lose that precision with whole
// seconds; PreciseRetryAfter keeps it by also sending the wait in
// milliseconds in the body.
type RateLimit struct {
	Budget int           // requests per window per token; 0: no per-token limit
	Window time.Duration // 0: 60s, Notion's window
	Reason string        // rate_limit_reason of the per-token 429s; "": ReasonRequestRateLimit

	// WorkspaceBudget is the requests per WorkspaceWindow of all the tokens
	// of one workspace together; 0: no per-workspace limit. Its 429s carry
	// ReasonSpaceRateLimit.
	WorkspaceBudget int
	// WorkspaceWindow is the per-workspace window; 0: Window. Notion's
	// per-workspace Retry-After can exceed a minute: a WorkspaceWindow
	// longer than Window lets a test meet that.
	WorkspaceWindow time.Duration

	// PreciseRetryAfter also reports the wait in additional_data.retry_after
	// with millisecond precision (e.g. "0.437"), while the Retry-After header
	// stays in whole seconds rounded up, as Notion sends it. It lets a test
	// or benchmark use a window of a few seconds and still give clients
	// Notion's relative precision (1 s in a 60 s window); clients that read
	// only the header are unaffected. It applies to both limits.
	PreciseRetryAfter bool
}

// window is the length of the per-token window.
func (rl RateLimit) window() time.Duration {
	if rl.Window > 0 {
		return rl.Window
	}
	return time.Minute
}

// workspaceWindow is the length of the per-workspace window.
func (rl RateLimit) workspaceWindow() time.Duration {
	if rl.WorkspaceWindow > 0 {
		return rl.WorkspaceWindow
	}
	return rl.window()
}

type window struct {
	start time.Time
	used  int
}

// SetRateLimit sets the rate limits, starting every token's and every
// workspace's window afresh.
//
// A token's window starts at its first request after its last window ended
// and lasts Window; once it has used Budget requests, further requests in
// the window get 429 rate_limited with Retry-After set to the whole seconds
// (rounded up, at least 1) until the window ends, repeated in
// additional_data "retry_after" next to "rate_limit_reason" (in seconds with
// three decimals, rounded up to the millisecond, when PreciseRetryAfter is
// set). A workspace's window works the same way, lasts WorkspaceWindow and
// counts the requests of all the workspace's tokens against WorkspaceBudget;
// its 429s carry ReasonSpaceRateLimit and a Retry-After until the
// workspace's window ends.
//
// The workspace's budget is checked first: a request over both limits gets
// the workspace's 429. That answer is the one that tells the client the
// truth it cannot learn otherwise: pacing this one connection will not
// help, since other connections spend the same budget, and the wait can be
// longer than its own window. Each 429's Retry-After is the end of its own
// window, so a client that waits it out may still meet the other limit.
//
// Requests answered 429 use neither budget, nor start a window. Only
// authenticated API requests count: not faults, not 401s, not /v1/oauth/.
// Both limits run on the server's clock ([Server.SetClock]).
func (s *Server) SetRateLimit(rl RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = rl
	s.resetWindowsLocked()
}

// resetWindowsLocked starts every token's and workspace's window afresh.
func (s *Server) resetWindowsLocked() {
	s.windows = map[string]*window{}
	s.spaceWindows = map[string]*window{}
}

// admit spends one request of the budgets of c's token and of its
// workspace, or returns the 429 to answer and its headers.
func (s *Server) admit(c *call) (*apiError, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rl := s.rateLimit
	now := s.now()
	var space, token *window
	if rl.WorkspaceBudget > 0 {
		space = current(s.spaceWindows[c.bot.ws.id], now, rl.workspaceWindow())
		if space.used >= rl.WorkspaceBudget {
			return rateLimited(space.start.Add(rl.workspaceWindow()).Sub(now), ReasonSpaceRateLimit, rl.PreciseRetryAfter)
		}
	}
	if rl.Budget > 0 {
		token = current(s.windows[c.token], now, rl.window())
		if token.used >= rl.Budget {
			reason := rl.Reason
			if reason == "" {
				reason = ReasonRequestRateLimit
			}
			return rateLimited(token.start.Add(rl.window()).Sub(now), reason, rl.PreciseRetryAfter)
		}
	}
	if space != nil {
		space.used++
		s.spaceWindows[c.bot.ws.id] = space
	}
	if token != nil {
		token.used++
		s.windows[c.token] = token
	}
	return nil, nil
}

// current returns w if it is still open at now, else a new window starting
// at now, not yet stored: a window starts only with a request it admits.
func current(w *window, now time.Time, length time.Duration) *window {
	if w != nil && now.Sub(w.start) < length {
		return w
	}
	return &window{start: now}
}

// rateLimited is the 429 for a limit whose window ends in left.
func rateLimited(left time.Duration, reason string, precise bool) (*apiError, http.Header) {
	secs := strconv.Itoa(retryAfterSeconds(left))
	data := secs
	if precise {
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
