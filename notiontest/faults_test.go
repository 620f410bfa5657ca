package notiontest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

func TestReadyMadeFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		fault          notiontest.Fault
		wantStatus     int
		wantCode       string
		wantMessage    string // prefix; "": not checked
		wantRetryAfter string // "": no Retry-After header
		wantData       map[string]any
	}{
		{name: "rate limited", fault: notiontest.RateLimited(2 * time.Second),
			wantStatus: 429, wantCode: "rate_limited", wantRetryAfter: "2",
			wantData: map[string]any{"retry_after": "2", "rate_limit_reason": "public_api_request_rate_limit"}},
		{name: "rate limited rounds up", fault: notiontest.RateLimited(1500 * time.Millisecond),
			wantStatus: 429, wantCode: "rate_limited", wantRetryAfter: "2",
			wantData: map[string]any{"retry_after": "2", "rate_limit_reason": "public_api_request_rate_limit"}},
		{name: "rate limited at least 1s", fault: notiontest.RateLimited(0),
			wantStatus: 429, wantCode: "rate_limited", wantRetryAfter: "1",
			wantData: map[string]any{"retry_after": "1", "rate_limit_reason": "public_api_request_rate_limit"}},
		{name: "blocked", fault: notiontest.Blocked(),
			wantStatus: 429, wantCode: "rate_limited",
			wantData: map[string]any{"rate_limit_reason": "public_api_request_blocked"}},
		{name: "overloaded", fault: notiontest.Overloaded(3 * time.Second),
			wantStatus: 529, wantCode: "service_overload", wantRetryAfter: "3"},
		{name: "overloaded without retry-after", fault: notiontest.Overloaded(0),
			wantStatus: 529, wantCode: "service_overload"},
		{name: "conflict", fault: notiontest.Conflict(), wantStatus: 409, wantCode: "conflict_error"},
		{name: "500", fault: notiontest.ServerError(500), wantStatus: 500, wantCode: "internal_server_error"},
		{name: "502", fault: notiontest.ServerError(502), wantStatus: 502, wantCode: "bad_gateway"},
		{name: "503", fault: notiontest.ServerError(503), wantStatus: 503, wantCode: "service_unavailable"},
		{name: "504", fault: notiontest.ServerError(504), wantStatus: 504, wantCode: "gateway_timeout"},
		{name: "spurious unauthorized", fault: notiontest.SpuriousUnauthorized(),
			wantStatus: 401, wantCode: "unauthorized", wantMessage: "API token is invalid."},
		{name: "block limit", fault: notiontest.BlockLimit(),
			wantStatus: 403, wantCode: "restricted_resource",
			wantMessage: "The workspace has reached its block limit.",
			wantData:    map[string]any{"reason": "block_limit"}},
		{name: "custom fault, defaults filled in", fault: notiontest.Fault{Status: 404},
			wantStatus: 404, wantCode: "object_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, token := setup(t)
			s.Inject(tt.fault)

			r := do(t, s, "GET", "/v1/users/me", token, nil)
			require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
			e := r.apiErr(t)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.NotEmpty(t, e.Message)
			assert.True(t, strings.HasPrefix(e.Message, tt.wantMessage), "message %q", e.Message)
			assert.Equal(t, tt.wantRetryAfter, r.header.Get("Retry-After"))
			assert.Equal(t, tt.wantData, e.AdditionalData)

			// Once only: the next request is served.
			assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", token, nil).status)
		})
	}
}

func TestEdgeHTML(t *testing.T) {
	t.Parallel()
	for _, status := range []int{403, 502, 520} {
		s, token := setup(t)
		s.Inject(notiontest.EdgeHTML(status))

		r := do(t, s, "GET", "/v1/users/me", token, nil)
		require.Equal(t, status, r.status)
		assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/html"), r.header.Get("Content-Type"))
		assert.NotEmpty(t, r.header.Get("Cf-Ray"))
		assert.Empty(t, r.header.Values("X-Notion-Request-Id"))
		assert.Contains(t, string(r.body), "<html>")
		assert.Contains(t, string(r.body), "cloudflare")
		assert.False(t, json.Valid(r.body))
	}

	// What github.com/jomei/notionapi makes of it: a bare JSON syntax error.
	s, token := setup(t)
	s.Inject(notiontest.EdgeHTML(502))
	_, err := newClient(s, token).User.Me(context.Background())
	var syntaxErr *json.SyntaxError
	assert.ErrorAs(t, err, &syntaxErr)
}

func TestFaultTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		times int
		want  []int // statuses of successive requests
	}{
		{"zero means once", 0, []int{409, 200, 200}},
		{"twice", 2, []int{409, 409, 200}},
		{"negative means until cleared", -1, []int{409, 409, 409, 409}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, token := setup(t)
			f := notiontest.Conflict()
			f.Times = tt.times
			s.Inject(f)
			var got []int
			for range tt.want {
				got = append(got, do(t, s, "GET", "/v1/users/me", token, nil).status)
			}
			assert.Equal(t, tt.want, got)

			s.ClearFaults()
			assert.Equal(t, 200, do(t, s, "GET", "/v1/users/me", token, nil).status)
		})
	}
}

func TestFaultScope(t *testing.T) {
	t.Parallel()
	page := "/v1/pages/00000000-0000-4000-8000-000000000001"
	tests := []struct {
		name   string
		fault  notiontest.Fault
		method string
		path   string
		other  bool // send with the other token
		hit    bool
	}{
		{name: "token: its token", fault: notiontest.Fault{Token: "A"}, path: "/v1/users/me", hit: true},
		{name: "token: another token", fault: notiontest.Fault{Token: "A"}, path: "/v1/users/me", other: true},
		{name: "path: exact", fault: notiontest.Fault{Path: "/v1/users/me"}, path: "/v1/users/me", hit: true},
		{name: "path: exact, other path", fault: notiontest.Fault{Path: "/v1/users"}, path: "/v1/users/me"},
		{name: "path: prefix", fault: notiontest.Fault{Path: "/v1/pages/*"}, path: page, hit: true},
		{name: "path: prefix, other path", fault: notiontest.Fault{Path: "/v1/pages/*"}, path: "/v1/users/me"},
		{name: "method", fault: notiontest.Fault{Method: "POST"}, method: "POST", path: "/v1/search", hit: true},
		{name: "method, other method", fault: notiontest.Fault{Method: "POST"}, path: "/v1/users/me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := notiontest.New(t)
			tokens := map[string]string{"A": s.NewToken(), "B": s.NewToken()}
			f := tt.fault
			f.Status, f.Code = http.StatusTeapot, "scripted"
			if f.Token != "" {
				f.Token = tokens[f.Token]
			}
			s.Inject(f)
			token := tokens["A"]
			if tt.other {
				token = tokens["B"]
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			r := do(t, s, method, tt.path, token, nil)
			assert.Equal(t, tt.hit, r.status == http.StatusTeapot, "status %d, body %s", r.status, r.body)
		})
	}
}

func TestFaultBeforeAuth(t *testing.T) {
	t.Parallel()
	s := notiontest.New(t)
	s.Inject(notiontest.Fault{Token: "not-a-valid-token", Status: 503})
	s.Inject(notiontest.Fault{Path: "/v1/users/me", Status: 502, Times: 2})

	r := do(t, s, "GET", "/v1/users/me", "not-a-valid-token", nil)
	assert.Equal(t, 503, r.status, "a token-scoped fault answers before the token is checked")
	r = do(t, s, "GET", "/v1/users/me", "", nil)
	assert.Equal(t, 502, r.status, "faults come before auth")
	r = do(t, s, "GET", "/v1/users/me", "not-a-valid-token", nil)
	assert.Equal(t, 502, r.status, "the first fault is used up: the next match answers")
	r = do(t, s, "GET", "/v1/users/me", "not-a-valid-token", nil)
	assert.Equal(t, 401, r.status)
}

func TestFaultCustomHeaderAndBody(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.Inject(notiontest.Fault{
		Status:  503,
		Code:    "database_connection_unavailable",
		Message: "db down",
		Header:  http.Header{"X-Extra": {"1"}},
		AdditionalData: map[string]any{
			"retry_guidance":        []any{"not_committed"},
			"committed_resource_id": "",
		},
	})
	s.Inject(notiontest.Fault{Status: 500, Body: `{"weird": true}`, Header: http.Header{"Content-Type": {"application/json"}}})

	r := do(t, s, "POST", "/v1/pages", token, map[string]any{})
	e := r.apiErr(t)
	assert.Equal(t, "database_connection_unavailable", e.Code)
	assert.Equal(t, "db down", e.Message)
	assert.Equal(t, "1", r.header.Get("X-Extra"))
	assert.Equal(t, []any{"not_committed"}, e.AdditionalData["retry_guidance"])

	r = do(t, s, "POST", "/v1/pages", token, map[string]any{})
	assert.Equal(t, 500, r.status)
	assert.Equal(t, `{"weird": true}`, string(r.body))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Empty(t, r.header.Get("X-Notion-Request-Id"))
}

func TestConnectionReset(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.Inject(notiontest.ConnectionReset())

	// POST, which net/http never retries on its own.
	req := newRequest(t, "POST", "/v1/search", token, map[string]any{})
	resp, err := s.Client().Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	var urlErr *url.Error
	require.ErrorAs(t, err, &urlErr, "the client sees a transport error")

	assert.Equal(t, http.StatusOK, do(t, s, "POST", "/v1/search", token, map[string]any{}).status)
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, 0, reqs[0].Status, "a reset is logged with status 0")
	assert.Equal(t, 200, reqs[1].Status)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.Inject(notiontest.Latency(50 * time.Millisecond))
	s.Inject(notiontest.Conflict())

	start := time.Now()
	r := do(t, s, "GET", "/v1/users/me", token, nil)
	assert.Equal(t, 409, r.status, "a delay-only fault lets later faults answer")
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	start = time.Now()
	r = do(t, s, "GET", "/v1/users/me", token, nil)
	assert.Equal(t, 200, r.status)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "latency applies to every request")
}

func TestLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.Inject(notiontest.Latency(time.Minute))

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(s, token).User.Me(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	assert.Less(t, time.Since(start), 2*time.Second)

	// The server stops waiting too: the request is logged as unanswered.
	require.Eventually(t, func() bool {
		reqs := s.Requests()
		return len(reqs) == 1 && reqs[0].Status == 0
	}, 2*time.Second, 10*time.Millisecond)
	s.ClearFaults()
	_, err = newClient(s, token).User.Me(context.Background())
	require.NoError(t, err)
}

func TestNotionapiSeesInjectedErrors(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.Inject(notiontest.RateLimited(time.Second))
	_, err := newClient(s, token).User.Me(context.Background())
	var rl *notionapi.RateLimitedError
	assert.ErrorAs(t, err, &rl)

	s.Inject(notiontest.ServerError(502))
	_, err = newClient(s, token).User.Me(context.Background())
	var apiErr *notionapi.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, notionapi.ErrorCode("bad_gateway"), apiErr.Code)
}
