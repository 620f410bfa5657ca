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
