package notionauth

import (
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryStub is a Base that answers each request with the next step of a
// script, reads and closes every request body, and records what it got.
type retryStub struct {
	mu     sync.Mutex
	steps  []func(r *http.Request) (*http.Response, error)
	bodies []string
	sent   int
}

func (s *retryStub) RoundTrip(r *http.Request) (*http.Response, error) {
	body := ""
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		body = string(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, body)
	step := s.steps[min(s.sent, len(s.steps)-1)]
	s.sent++
	return step(r)
}

func (s *retryStub) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func stubAnswer(status int, body string, h ...string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		resp, _ := reply(r, status, body)
		for i := 0; i+1 < len(h); i += 2 {
			resp.Header.Set(h[i], h[i+1])
		}
		return resp, nil
	}
}

func fail(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

var (
	ok200       = stubAnswer(200, `{"object":"page","id":"`+pageID+`"}`)
	unavailable = stubAnswer(503, `{"object":"error","status":503,"code":"service_unavailable","message":"Notion is unavailable."}`)
	dialRefused = &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "connection refused", Addr: "127.0.0.1:1"}}
)

// TestRetryNetworkErrors: a request whose connection could not be made is
// sent again whatever its method; one that may have reached Notion only if
// it is safe to repeat.
func TestRetryNetworkErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		path  string // POSTed
		err   error
		sent  int
		retry bool
	}{
		{"dial on a write", "/v1/pages", dialRefused, 2, true},
		{"wrapped dial on a write", "/v1/pages", &url.Error{Op: "Post", URL: "x", Err: dialRefused}, 2, true},
		{"read on a write", "/v1/pages", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, 1, false},
		{"write on a write", "/v1/pages", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, 1, false},
		{"unexpected EOF on a write", "/v1/pages", io.ErrUnexpectedEOF, 1, false},
		{"reset on a read-only POST", "/v1/search", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, 2, true},
		{"EOF on a query", "/v1/databases/" + pageID + "/query", io.EOF, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const body = `{"parent":{"page_id":"` + pageID + `"}}`
			stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){fail(tc.err), ok200}}
			tr := &Transport{Base: stub, Source: static(testToken), Retry: RetryPolicy{BaseDelay: time.Millisecond}}
			req, orig, rewound := postWithBody(t, tc.path, body)
			resp, err := tr.RoundTrip(req)
			assert.Equal(t, tc.sent, stub.count())
			assert.Equal(t, int32(1), orig.closes.Load(), "the original body is closed once")
			for i, b := range *rewound {
				assert.Equal(t, int32(1), b.closes.Load(), "rewound body %d is closed once", i)
			}
			if tc.retry {
				require.NoError(t, err)
				assert.Equal(t, 200, resp.StatusCode)
				assert.Equal(t, []string{body, body}, stub.bodies, "the same body both times")
				assert.EqualValues(t, 1, tr.Stats().Retries)
				return
			}
			require.Error(t, err)
			e := asError(t, err)
			assert.Equal(t, Unavailable, e.Kind)
			assert.Zero(t, e.StatusCode)
			assert.Equal(t, 1, e.Attempts)
			assert.ErrorIs(t, err, tc.err, "the network error is the cause")
			assert.Empty(t, *rewound, "never rewound")
			assert.Zero(t, tr.Stats().Retries)
		})
	}
}

// TestRetryNetworkErrorOnGet: a GET is repeated after any network error.
func TestRetryNetworkErrorOnGet(t *testing.T) {
	t.Parallel()
	stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){
		fail(io.ErrUnexpectedEOF), fail(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), ok200,
	}}
	tr := &Transport{Base: stub, Source: static(testToken), Retry: RetryPolicy{BaseDelay: time.Millisecond}}
	resp, err := tr.RoundTrip(getPage(t))
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 3, stub.count())
	assert.Equal(t, Stats{Requests: 3, Retries: 2}, tr.Stats())
}

// TestRetryWithoutRetryAfter: a 429 that gives no Retry-After (and a 529)
// is retried after a backoff, which the failure budget does not pay for.
func TestRetryWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	for _, status := range []int{429, 529} {
		stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){
			stubAnswer(status, `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`),
			stubAnswer(status, `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`),
			ok200,
		}}
		// A spent budget: any failure retry would be refused.
		tr := &Transport{Base: stub, Source: static(testToken),
			Retry: RetryPolicy{BaseDelay: time.Millisecond, RetryBurst: 1, RetryRatio: 1e-9}}
		tr.state().budget.take(0, 1e-9, 1)
		resp, err := tr.RoundTrip(getPage(t))
		require.NoError(t, err, "status %d", status)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, 3, stub.count(), "status %d", status)
		st := tr.Stats()
		assert.EqualValues(t, 2, st.Throttled, "status %d", status)
		assert.EqualValues(t, 2, st.Retries, "status %d", status)
		assert.Zero(t, st.Waits, "nothing to share without a Retry-After: status %d", status)
	}
}

// TestRetryPacingOff: without pacing, each call waits out its own
// Retry-After and other calls are not held.
func TestRetryPacingOff(t *testing.T) {
	t.Parallel()
	stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){
		stubAnswer(429, `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`, "Retry-After", "0.2"),
		ok200,
	}}
	tr := &Transport{Base: stub, Source: static(testToken), Pacing: Pacing{Off: true}}
	start := time.Now()
	_, err := tr.RoundTrip(getPage(t))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 190*time.Millisecond, "Retry-After 0.2 waited out")
	assert.Equal(t, 2, stub.count())
	st := tr.Stats()
	assert.Zero(t, st.Waits, "no pacer")
	assert.EqualValues(t, 1, st.Retries)

	// Retry-After beyond MaxWait: returned at once, nothing held.
	stub = &retryStub{steps: []func(*http.Request) (*http.Response, error){
		stubAnswer(429, `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`, "Retry-After", "30"),
		ok200,
	}}
	tr = &Transport{Base: stub, Source: static(testToken), Pacing: Pacing{Off: true},
		Retry: RetryPolicy{MaxWait: time.Second}}
	start = time.Now()
	_, err = tr.RoundTrip(getPage(t))
	require.ErrorIs(t, err, ErrThrottled)
	assert.Equal(t, 30*time.Second, asError(t, err).RetryAfter)
	assert.Less(t, time.Since(start), 5*time.Second)
	_, err = tr.RoundTrip(getPage(t))
	require.NoError(t, err, "no shared pause with pacing off")
	assert.Equal(t, 2, stub.count())
}

// TestRetryGetBodyFails: a body that cannot be rewound after all is not
// sent half-way.
func TestRetryGetBodyFails(t *testing.T) {
	t.Parallel()
	stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){unavailable, ok200}}
	tr := &Transport{Base: stub, Source: static(testToken), Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}}
	req, _, _ := postWithBody(t, "/v1/search", `{"query":"x"}`)
	rewind := errors.New("cannot rewind")
	req.GetBody = func() (io.ReadCloser, error) { return nil, rewind }
	_, err := tr.RoundTrip(req)
	require.ErrorIs(t, err, rewind)
	assert.Equal(t, Unavailable, asError(t, err).Kind)
	assert.Equal(t, 1, stub.count(), "the rewind failed before anything was sent")
}

func TestRetryReadOnlyPost(t *testing.T) {
	t.Parallel()
	const id = "59833787-2cf9-4fdf-8782-e53db20768a5"
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/v1/pages/" + id, true},
		{"HEAD", "/v1/pages/" + id, true},
		{"OPTIONS", "/v1/pages", true},
		{"DELETE", "/v1/blocks/" + id, true},
		{"POST", "/v1/search", true},
		{"POST", "/v1/search/", true},
		{"POST", "/v1/databases/" + id + "/query", true},
		{"POST", "/v1/data_sources/" + id + "/query", true},
		{"POST", "/proxy/notion/v1/search", true},
		{"POST", "/proxy/v1/databases/" + id + "/query", true},
		{"POST", "/v1/pages", false},
		{"POST", "/v1/databases", false},
		{"POST", "/v1/databases//query", false},
		{"POST", "/v1/databases/" + id, false},
		{"POST", "/v1/databases/" + id + "/query/extra", false},
		{"POST", "/v1/comments", false},
		{"POST", "/v1/oauth/token", false},
		{"POST", "/v1/searches", false},
		{"POST", "/search", false},
		{"POST", "", false},
		{"PATCH", "/v1/pages/" + id, false},
		{"PATCH", "/v1/search", false},
		{"PUT", "/v1/pages/" + id, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, idempotent(tc.method, tc.path), "%s %s", tc.method, tc.path)
	}
}

func TestRetryBackoffIsFullJitter(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	ceilings := map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 31: time.Second,
		32: time.Second, 64: time.Second, math.MaxInt32: time.Second}
	for n, ceiling := range ceilings {
		var most time.Duration
		for range 200 {
			d := p.backoff(n)
			require.GreaterOrEqual(t, d, time.Duration(0), "attempt %d", n)
			require.LessOrEqual(t, d, ceiling, "attempt %d", n)
			most = max(most, d)
		}
		assert.Greater(t, most, ceiling/2, "attempt %d: jitter spans the range", n)
	}
	// Defaults: half a second first, capped at 16 s.
	var zero RetryPolicy
	for range 100 {
		assert.LessOrEqual(t, zero.backoff(1), DefaultBaseDelay)
		assert.LessOrEqual(t, zero.backoff(40), DefaultMaxDelay)
	}
	// A base above the cap is capped.
	big := RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Millisecond}
	assert.LessOrEqual(t, big.backoff(1), time.Millisecond)
}

func TestRetryBudgetTake(t *testing.T) {
	t.Parallel()
	var b retryBudget
	assert.True(t, b.take(0, 0.5, 2), "the burst is there at first")
	assert.True(t, b.take(0, 0.5, 2))
	assert.False(t, b.take(0, 0.5, 2), "burst spent")
	assert.False(t, b.take(1, 0.5, 2), "half a retry earned")
	assert.True(t, b.take(2, 0.5, 2), "one earned")
	assert.False(t, b.take(2, 0.5, 2))
	assert.True(t, b.take(1000, 0.5, 2), "refilled")
	assert.True(t, b.take(1000, 0.5, 2))
	assert.False(t, b.take(1000, 0.5, 2), "never more than the burst")

	var unlimited retryBudget
	for range 100 {
		assert.True(t, unlimited.take(0, -1, 1), "a negative ratio means no budget")
	}
}

func TestRetryBudgetSharedAcrossCalls(t *testing.T) {
	t.Parallel()
	stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){unavailable}}
	tr := &Transport{Base: stub, Source: static(testToken),
		Retry: RetryPolicy{BaseDelay: time.Millisecond, RetryBurst: 3, RetryRatio: 1e-6}}
	attempts := 0
	for range 5 {
		_, err := tr.RoundTrip(getPage(t))
		require.ErrorIs(t, err, ErrUnavailable)
		attempts += asError(t, err).Attempts
	}
	assert.Equal(t, stub.count(), attempts, "Attempts adds up to the requests sent")
	assert.Equal(t, 5+3, stub.count(), "five calls, three retries in the burst")
	assert.EqualValues(t, 3, tr.Stats().Retries)
}

func TestRetryPolicyValidateFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  RetryPolicy
		wantErr string
	}{
		{"negative base delay", RetryPolicy{BaseDelay: -1}, "BaseDelay"},
		{"negative max delay", RetryPolicy{MaxDelay: -1}, "MaxDelay"},
		{"negative burst", RetryPolicy{RetryBurst: -1}, "RetryBurst"},
		{"NaN ratio", RetryPolicy{RetryRatio: math.NaN()}, "RetryRatio"},
		{"negative ratio is no budget", RetryPolicy{RetryRatio: -1}, ""},
		{"infinite ratio", RetryPolicy{RetryRatio: math.Inf(1)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stub := &retryStub{steps: []func(*http.Request) (*http.Response, error){ok200}}
			tr := &Transport{Base: stub, Source: static(testToken), Retry: tc.policy}
			_, err := tr.RoundTrip(getPage(t))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidRequest)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Zero(t, stub.count(), "an invalid policy sends nothing")
		})
	}
}
