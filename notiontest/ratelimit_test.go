package notiontest_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

func TestRateLimitWindow(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	other := s.NewToken()
	const window = 300 * time.Millisecond
	s.SetRateLimit(notiontest.RateLimit{Budget: 3, Window: window})

	start := time.Now()
	for i := range 3 {
		r := do(t, s, "GET", "/v1/users/me", token, nil)
		require.Equal(t, http.StatusOK, r.status, "request %d is within budget", i+1)
	}
	for i := range 2 { // rejected requests do not use the budget, nor extend the window
		r := do(t, s, "GET", "/v1/users/me", token, nil)
		require.Equal(t, http.StatusTooManyRequests, r.status, "over-budget request %d", i+1)
		e := r.apiErr(t)
		assert.Equal(t, "rate_limited", e.Code)
		assert.Equal(t, "1", r.header.Get("Retry-After"))
		assert.Equal(t, map[string]any{"retry_after": "1", "rate_limit_reason": "public_api_request_rate_limit"}, e.AdditionalData)
	}
	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", other, nil).status, "budgets are per token")

	time.Sleep(time.Until(start.Add(window + 20*time.Millisecond)))
	for i := range 3 {
		r := do(t, s, "GET", "/v1/users/me", token, nil)
		require.Equal(t, http.StatusOK, r.status, "request %d of the next window", i+1)
	}
	assert.Equal(t, http.StatusTooManyRequests, do(t, s, "GET", "/v1/users/me", token, nil).status)
}

func TestRateLimitRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limit  notiontest.RateLimit
		want   int // the Retry-After expected right after the budget is spent
		reason string
	}{
		{"default window is a minute", notiontest.RateLimit{Budget: 1}, 60, "public_api_request_rate_limit"},
		{"rounded up", notiontest.RateLimit{Budget: 1, Window: 2500 * time.Millisecond}, 3, "public_api_request_rate_limit"},
		{"custom reason", notiontest.RateLimit{Budget: 1, Window: 5 * time.Second, Reason: notiontest.ReasonSpaceRateLimit},
			5, "public_api_space_request_rate_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, token := setup(t)
			s.SetRateLimit(tt.limit)
			require.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
			r := do(t, s, "GET", "/v1/users/me", token, nil)
			require.Equal(t, http.StatusTooManyRequests, r.status)
			e := r.apiErr(t)
			assert.Equal(t, strconv.Itoa(tt.want), r.header.Get("Retry-After"))
			assert.Equal(t, strconv.Itoa(tt.want), e.AdditionalData["retry_after"])
			assert.Equal(t, tt.reason, e.AdditionalData["rate_limit_reason"])
		})
	}
}

func TestRateLimitCountsOnlyAuthenticatedRequests(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.AddOAuthClient("client", "secret", "")
	s.SetRateLimit(notiontest.RateLimit{Budget: 1, Window: time.Minute})

	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, do(t, s, "GET", "/v1/users/me", "ntn_unknown", nil).status)
		assert.Equal(t, http.StatusUnauthorized, do(t, s, "GET", "/v1/users/me", "", nil).status)
		req := newRequest(t, "POST", "/v1/oauth/introspect", "", map[string]any{"token": token})
		req.SetBasicAuth("client", "secret")
		assert.Equal(t, http.StatusOK, send(t, s.Client(), req).status)
	}
	s.Inject(notiontest.Conflict())
	assert.Equal(t, http.StatusConflict, do(t, s, "GET", "/v1/users/me", token, nil).status, "faults do not count")

	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
	assert.Equal(t, http.StatusTooManyRequests, do(t, s, "GET", "/v1/users/me", token, nil).status)

	s.SetRateLimit(notiontest.RateLimit{})
	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status, "Budget 0 disables the limit")
}

func TestRateLimitPreciseRetryAfter(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	const window = 2500 * time.Millisecond
	s.SetRateLimit(notiontest.RateLimit{Budget: 1, Window: window, PreciseRetryAfter: true})

	start := time.Now()
	require.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
	r := do(t, s, "GET", "/v1/users/me", token, nil)
	elapsed := time.Since(start)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	e := r.apiErr(t)

	assert.Equal(t, "3", r.header.Get("Retry-After"), "the header stays in whole seconds, rounded up")
	assert.Equal(t, "public_api_request_rate_limit", e.AdditionalData["rate_limit_reason"])
	precise, ok := e.AdditionalData["retry_after"].(string)
	require.True(t, ok, "retry_after is a string, as Notion sends it: %#v", e.AdditionalData["retry_after"])
	assert.Regexp(t, `^[0-9]+\.[0-9]{3}$`, precise, "seconds with three decimals")
	secs, err := strconv.ParseFloat(precise, 64)
	require.NoError(t, err)
	got := time.Duration(secs * float64(time.Second))
	// The window started at the first request, between start and the
	// second request: what is left of it lies in [window-elapsed, window].
	assert.LessOrEqual(t, got, window, "retry_after %s", precise)
	assert.GreaterOrEqual(t, got, window-elapsed-time.Millisecond, "retry_after %s, elapsed %v", precise, elapsed)
}

func TestRateLimitPreciseRetryAfterSubSecond(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	const window = 900 * time.Millisecond
	s.SetRateLimit(notiontest.RateLimit{Budget: 1, Window: window, PreciseRetryAfter: true})

	require.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
	r := do(t, s, "GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	e := r.apiErr(t)
	assert.Equal(t, "1", r.header.Get("Retry-After"), "the header is at least 1")
	assert.Regexp(t, `^0\.[0-9]{3}$`, e.AdditionalData["retry_after"], "a sub-second wait in milliseconds")
	assert.NotEqual(t, "0.000", e.AdditionalData["retry_after"], "rounded up, never 0")
}

// TestWorkspaceRateLimit runs the per-workspace budget on a manual clock,
// step by step. Tokens a, b and d belong to one workspace, c to another.
func TestWorkspaceRateLimit(t *testing.T) {
	t.Parallel()
	const (
		space = notiontest.ReasonSpaceRateLimit
		conn  = notiontest.ReasonRequestRateLimit
	)
	type step struct {
		advance    time.Duration // before the request
		token      string        // "a", "b", "c" or "d"
		status     int
		reason     string // rate_limit_reason; "" for a 200
		retryAfter string // header; "" for a 200
		data       string // additional_data.retry_after; "" for a 200
	}
	tests := []struct {
		name  string
		limit notiontest.RateLimit
		steps []step
	}{
		{
			name:  "tokens of a workspace share its budget",
			limit: notiontest.RateLimit{WorkspaceBudget: 3, Window: time.Minute},
			steps: []step{
				{0, "a", 200, "", "", ""},
				{10 * time.Second, "a", 200, "", "", ""},
				{0, "a", 200, "", "", ""}, // a spends the budget
				{5 * time.Second, "b", 429, space, "45", "45"},
				{0, "c", 200, "", "", ""}, // another workspace is unaffected
				{0, "c", 200, "", "", ""},
				{0, "c", 200, "", "", ""},
				{0, "a", 429, space, "45", "45"},
				{44*time.Second + 500*time.Millisecond, "b", 429, space, "1", "1"}, // 59.5s: rounded up
				{500 * time.Millisecond, "b", 200, "", "", ""},                     // 60s: a new window
				{0, "a", 200, "", "", ""},
				{0, "d", 200, "", "", ""},
				{0, "a", 429, space, "60", "60"},
				{time.Hour, "d", 200, "", "", ""},
			},
		},
		{
			name:  "the per-token limit applies on its own",
			limit: notiontest.RateLimit{Budget: 2, WorkspaceBudget: 10, Window: time.Minute},
			steps: []step{
				{0, "a", 200, "", "", ""},
				{0, "a", 200, "", "", ""},
				{20 * time.Second, "a", 429, conn, "40", "40"},
				{0, "b", 200, "", "", ""}, // same workspace, a budget of its own
				{0, "b", 200, "", "", ""},
				{0, "b", 429, conn, "60", "60"}, // b's window started at 20s
				{40 * time.Second, "a", 200, "", "", ""},
			},
		},
		{
			name:  "over both: the workspace's 429, with its own longer wait",
			limit: notiontest.RateLimit{Budget: 2, Window: time.Minute, WorkspaceBudget: 3, WorkspaceWindow: 5 * time.Minute},
			steps: []step{
				{0, "a", 200, "", "", ""},
				{0, "a", 200, "", "", ""},
				{10 * time.Second, "a", 429, conn, "50", "50"}, // a is over; the workspace is not
				{0, "b", 200, "", "", ""},                      // now the workspace is
				{0, "a", 429, space, "290", "290"},             // over both
				{0, "b", 429, space, "290", "290"},
				{50 * time.Second, "a", 429, space, "240", "240"}, // a's own window is over
				{4 * time.Minute, "a", 200, "", "", ""},
				{0, "b", 200, "", "", ""},
			},
		},
		{
			name:  "a 429 starts no window",
			limit: notiontest.RateLimit{Budget: 1, Window: time.Minute, WorkspaceBudget: 2, WorkspaceWindow: 30 * time.Second},
			steps: []step{
				{0, "a", 200, "", "", ""},
				{30 * time.Second, "a", 429, conn, "30", "30"}, // the workspace's window is over, a's is not
				{20 * time.Second, "b", 200, "", "", ""},       // 50s: the workspace's window starts here
				{0, "d", 200, "", "", ""},
				{15 * time.Second, "a", 429, space, "15", "15"}, // 65s: still in it
				{15 * time.Second, "a", 200, "", "", ""},        // 80s: a new one
			},
		},
		{
			name:  "precise",
			limit: notiontest.RateLimit{WorkspaceBudget: 1, Window: 2500 * time.Millisecond, PreciseRetryAfter: true},
			steps: []step{
				{0, "a", 200, "", "", ""},
				{63 * time.Millisecond, "b", 429, space, "3", "2.437"},
				{2*time.Second + 436*time.Millisecond, "a", 429, space, "1", "0.001"},
				{time.Millisecond, "b", 200, "", "", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c, a := clockServer(t)
			other := s.NewWorkspace("other")
			tokens := map[string]string{"a": a, "b": s.NewToken(), "c": s.NewTokenIn(other), "d": s.NewTokenIn(s.Workspace())}
			s.SetRateLimit(tt.limit)
			for i, st := range tt.steps {
				c.Advance(st.advance)
				r := do(t, s, "GET", "/v1/users/me", tokens[st.token], nil)
				at := c.Now().Sub(epoch)
				require.Equal(t, st.status, r.status, "step %d (%s at %v): status", i, st.token, at)
				if st.status != http.StatusTooManyRequests {
					continue
				}
				e := r.apiErr(t)
				assert.Equal(t, "rate_limited", e.Code, "step %d", i)
				assert.Equal(t, st.reason, e.AdditionalData["rate_limit_reason"], "step %d (%s at %v): reason", i, st.token, at)
				assert.Equal(t, st.retryAfter, r.header.Get("Retry-After"), "step %d (%s at %v): Retry-After", i, st.token, at)
				assert.Equal(t, st.data, e.AdditionalData["retry_after"], "step %d (%s at %v): additional_data.retry_after", i, st.token, at)
			}
		})
	}
}

func TestWorkspaceRateLimitCountsOnlyAuthenticatedRequests(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	revoked := s.NewToken()
	s.RevokeToken(revoked)
	s.AddOAuthClient("client", "secret", "")
	s.SetRateLimit(notiontest.RateLimit{WorkspaceBudget: 1, Window: time.Minute})

	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, do(t, s, "GET", "/v1/users/me", revoked, nil).status)
		req := newRequest(t, "POST", "/v1/oauth/introspect", "", map[string]any{"token": token})
		req.SetBasicAuth("client", "secret")
		assert.Equal(t, http.StatusOK, send(t, s.Client(), req).status)
	}
	s.Inject(notiontest.Conflict())
	assert.Equal(t, http.StatusConflict, do(t, s, "GET", "/v1/users/me", token, nil).status, "faults do not count")

	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
	r := do(t, s, "GET", "/v1/users/me", s.NewToken(), nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, notiontest.ReasonSpaceRateLimit, r.apiErr(t).AdditionalData["rate_limit_reason"])

	s.SetRateLimit(notiontest.RateLimit{})
	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status, "the zero RateLimit disables both")
}

func TestSetClockRestartsWorkspaceWindows(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.SetRateLimit(notiontest.RateLimit{WorkspaceBudget: 1, Window: time.Minute})
	require.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
	require.Equal(t, http.StatusTooManyRequests, do(t, s, "GET", "/v1/users/me", s.NewToken(), nil).status)

	s.SetClock(notiontest.NewClock(epoch))
	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", s.NewToken(), nil).status, "a window on the new clock")
}
