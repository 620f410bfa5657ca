package notionauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth/notiontest"
)

// Tests of the attempt loop: every attempt ends in one verdict, and every
// error is an *Error whose Kind says what to do.

// stepping runs f while moving clk on by step, a little at a time, until f
// returns: waits of seconds on clk take milliseconds.
func stepping(t *testing.T, clk *notiontest.Clock, step time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	for {
		select {
		case <-done:
			return
		case <-time.After(200 * time.Microsecond):
			clk.Advance(step)
		}
	}
}

// refresher is a Refresher whose Refresh hands out next (or fails with
// err), and counts its calls.
type refresher struct {
	mu    sync.Mutex
	cur   string
	next  []string
	err   error
	asked int
}

func (r *refresher) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &oauth2.Token{AccessToken: r.cur}, nil
}

func (r *refresher) Refresh(_ context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	if r.err != nil {
		return nil, r.err
	}
	if r.cur != rejected.AccessToken || len(r.next) == 0 {
		return &oauth2.Token{AccessToken: r.cur}, nil
	}
	r.cur, r.next = r.next[0], r.next[1:]
	return &oauth2.Token{AccessToken: r.cur}, nil
}

// script answers each call to Base from a list, per token; "" ends the
// list with 200s.
type script struct {
	mu    sync.Mutex
	byTok map[string][]func(r *http.Request) *http.Response
	sent  []string // the token of each request, in order
	idle  atomic.Int32
}

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	s.sent = append(s.sent, tok)
	var f func(*http.Request) *http.Response
	if q := s.byTok[tok]; len(q) > 0 {
		f, s.byTok[tok] = q[0], q[1:]
	}
	s.mu.Unlock()
	if f == nil {
		resp, _ := reply(r, 200, `{"object":"page","id":"`+pageID+`"}`)
		return resp, nil
	}
	return f(r), nil
}

func (s *script) CloseIdleConnections() { s.idle.Add(1) }

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

func answering(status int, body string, header ...string) func(*http.Request) *http.Response {
	return func(r *http.Request) *http.Response {
		resp, _ := reply(r, status, body)
		for i := 0; i+1 < len(header); i += 2 {
			resp.Header.Set(header[i], header[i+1])
		}
		return resp
	}
}

var (
	notion401 = answering(401, unauthorizedBody)
	notion429 = answering(429, `{"object":"error","status":429,"code":"rate_limited","message":"slow down","request_id":"42942942-9429-4429-8429-429429429429"}`,
		"Retry-After", "1")
	notion502 = answering(502, `{"object":"error","status":502,"code":"bad_gateway","message":"x","request_id":"50250250-2502-4502-8502-502502502502"}`)
	notion503 = answering(503, `{"object":"error","status":503,"code":"service_unavailable","message":"x","request_id":"50350350-3503-4503-8503-503503503503"}`)
)

// sentinelsMatched lists the exported sentinels err matches.
func sentinelsMatched(err error) []error {
	var got []error
	for _, s := range []error{ErrAuthRevoked, ErrThrottled, ErrPermissionLost, ErrBlocked, ErrInvalidRequest, ErrConflict, ErrUnavailable} {
		if errors.Is(err, s) {
			got = append(got, s)
		}
	}
	return got
}

func TestResendAfterRefreshIsATurnOfTheLoop(t *testing.T) {
	t.Parallel()
	const fresh = "ntn_refreshed_token_0000000000000000000"
	src := &refresher{cur: testToken, next: []string{fresh}}
	base := &script{byTok: map[string][]func(*http.Request) *http.Response{
		testToken: {notion401},
		fresh:     {notion429}, // then 200
	}}
	clk := notiontest.NewClock(time.Time{})
	var mu sync.Mutex
	var events []Event
	tr := &Transport{Base: base, Source: src, Clock: clk, OnEvent: func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
	}}
	var resp *http.Response
	var err error
	stepping(t, clk, 50*time.Millisecond, func() { resp, err = tr.RoundTrip(getPage(t)) })
	require.NoError(t, err, "a 429 met after the refresh is retried like any other")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, []string{testToken, fresh, fresh}, base.sent)
	assert.Equal(t, 1, src.asked)
	st := tr.Stats()
	assert.EqualValues(t, 3, st.Requests)
	assert.EqualValues(t, 2, st.Retries, "the resend after the refresh and after the 429")
	assert.EqualValues(t, 1, st.Waits, "the attempt after the 429 waited its turn")

	mu.Lock()
	defer mu.Unlock()
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type.String()+"/"+ev.Reason)
	}
	assert.Equal(t, []string{"retry/" + ReasonRefreshed, "pause/", "retry/", "wait/"}, types)
}

func TestResendAfterRefreshCountsInMaxAttempts(t *testing.T) {
	t.Parallel()
	const fresh = "ntn_refreshed_token_0000000000000000000"
	src := &refresher{cur: testToken, next: []string{fresh}}
	base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {notion401}}}
	tr := &Transport{Base: base, Source: src, Retry: RetryPolicy{MaxAttempts: 1}}
	_, err := tr.RoundTrip(getPage(t))
	e := asError(t, err)
	assert.Equal(t, Unavailable, e.Kind, "the token was refreshed, but no attempt was left: try again")
	assert.Equal(t, ReasonRefreshed, e.Reason)
	assert.Equal(t, 1, e.Attempts)
	assert.Equal(t, 1, base.count(), "MaxAttempts 1 sends once")
	assert.NotErrorIs(t, err, ErrAuthRevoked)

	_, err = tr.RoundTrip(getPage(t))
	require.NoError(t, err, "the next call sends the refreshed token")
	assert.Equal(t, []string{testToken, fresh}, base.sent)
}

func TestFailedRefreshIsOneError(t *testing.T) {
	t.Parallel()
	throttled := &Error{Kind: Throttled, StatusCode: 429, Code: CodeRateLimited, Message: "slow down",
		RetryAfter: 7 * time.Second, Method: http.MethodPost, Path: "/v1/oauth/token", Attempts: 1}
	for _, tc := range []struct {
		name       string
		err        error
		kind       Kind
		sentinel   error
		retryAfter time.Duration
	}{
		{"throttled token endpoint", throttled, Throttled, ErrThrottled, 7 * time.Second},
		{"wrapped", fmt.Errorf("refresh grant %q: %w", "w1", throttled), Throttled, ErrThrottled, 7 * time.Second},
		{"token endpoint down", &Error{Kind: Unavailable, StatusCode: 503, Method: http.MethodPost, Path: "/v1/oauth/token"},
			Unavailable, ErrUnavailable, 0},
		{"store unreachable", &StoreError{Op: "update", Key: "k", Path: "/x", Err: &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrPermission}},
			Unavailable, ErrUnavailable, 0},
		{"store key wrong", &StoreError{Op: "update", Key: "k", Path: "/x", Err: ErrWrongKey}, InvalidRequest, ErrInvalidRequest, 0},
		{"unknown", errors.New("something broke"), Unavailable, ErrUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &refresher{cur: testToken, err: tc.err}
			base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {notion401}}}
			tr := &Transport{Base: base, Source: src}
			_, err := tr.RoundTrip(getPage(t))
			e := asError(t, err)
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, []error{tc.sentinel}, sentinelsMatched(err), "exactly one sentinel: %v", err)
			assert.Equal(t, 1, strings.Count(err.Error(), "notionauth:"), "one prefix: %s", err)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			assert.Equal(t, "/v1/pages/"+pageID, e.Path, "the call's path")
			assert.Contains(t, e.Message, "cannot refresh the token")
			assert.Equal(t, 1, e.Attempts)
			assert.Equal(t, 1, base.count(), "nothing sent after a failed refresh")
		})
	}
}

func TestRefusedRefreshRevokesOnce(t *testing.T) {
	t.Parallel()
	gone := &Error{Kind: AuthRevoked, StatusCode: 400, Code: CodeInvalidGrant, Method: http.MethodPost, Path: "/v1/oauth/token"}
	src := &refresher{cur: testToken, err: gone}
	base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {notion401}}}
	var revoked atomic.Int32
	tr := &Transport{Base: base, Source: src, OnAuthRevoked: func(context.Context, *Error) { revoked.Add(1) }}
	_, err := tr.RoundTrip(getPage(t))
	assert.Equal(t, []error{ErrAuthRevoked}, sentinelsMatched(err))
	assert.Equal(t, 1, strings.Count(err.Error(), "notionauth:"), "one prefix: %s", err)
	_, err = tr.RoundTrip(getPage(t))
	e := asError(t, err)
	assert.Equal(t, AuthRevoked, e.Kind)
	assert.Equal(t, CodeInvalidGrant, e.Code, "remembered with its cause")
	assert.Equal(t, ReasonRemembered, e.Reason)
	assert.Zero(t, e.Attempts)
	assert.Equal(t, 1, base.count(), "the second call sent nothing")
	assert.EqualValues(t, 1, revoked.Load())
}

func TestRequestsThatCanNeverBeValid(t *testing.T) {
	t.Parallel()
	get := func(u *url.URL) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := getPage(t)
			r.URL = u
			return r
		}
	}
	for _, tc := range []struct {
		name   string
		source oauth2.TokenSource
		header string // the request's own Authorization, without a Source
		req    func(t *testing.T) *http.Request
		msg    string
	}{
		{name: "token ends in a newline", source: static(testToken + "\n"), msg: "line break"},
		{name: "token with a CR", source: static("ntn_abc\rdef"), msg: "line break"},
		{name: "token with a NUL", source: static("ntn_abc\x00def"), msg: "control character"},
		{name: "token with a space", source: static("ntn_abc def"), msg: "space"},
		{name: "token not ASCII", source: static("ntn_abcdéf"), msg: "non-ASCII"},
		{name: "own header with a newline", header: "Bearer " + testToken + "\n", msg: "line break"},
		{name: "no scheme", source: static(testToken), req: get(&url.URL{Host: "api.notion.com", Path: "/v1/pages"}), msg: "scheme"},
		{name: "other scheme", source: static(testToken), req: get(&url.URL{Scheme: "ftp", Host: "api.notion.com", Path: "/v1/pages"}), msg: "scheme"},
		{name: "no host", source: static(testToken), req: get(&url.URL{Scheme: "https", Path: "/v1/pages"}), msg: "host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := &script{}
			tr := &Transport{Base: base, Source: tc.source}
			req := getPage(t)
			if tc.req != nil {
				req = tc.req(t)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			body := newBody("{}")
			req.Body = body
			req.GetBody = func() (io.ReadCloser, error) { return newBody("{}"), nil }
			_, err := tr.RoundTrip(req)
			e := asError(t, err)
			assert.Equal(t, InvalidRequest, e.Kind, "%v", err)
			assert.Contains(t, e.Message, tc.msg)
			assert.Zero(t, e.Attempts)
			assert.Zero(t, base.count(), "nothing sent")
			assert.Zero(t, tr.Stats().Requests, "nothing counted")
			assert.EqualValues(t, 1, body.closes.Load(), "the body is closed once")
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestConfigBaseURLWithoutScheme(t *testing.T) {
	t.Parallel()
	var sent atomic.Int32
	cfg := &Config{ClientID: "cid", ClientSecret: "secret_config_0000000000", BaseURL: "api.notion.com",
		HTTPClient: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			sent.Add(1)
			return nil, errors.New("must not be sent")
		})}}
	_, err := cfg.Exchange(context.Background(), "code")
	e := asError(t, err)
	assert.Equal(t, InvalidRequest, e.Kind, "%v", err)
	assert.Contains(t, e.Message, "BaseURL")
	assert.Zero(t, sent.Load())
}

func TestCancelledCallIsCanceled(t *testing.T) {
	t.Parallel()
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	t.Run("before the call", func(t *testing.T) {
		t.Parallel()
		base := &script{}
		tr := &Transport{Base: base, Source: static(testToken)}
		_, err := tr.RoundTrip(getPage(t).WithContext(cancelled()))
		e := asError(t, err)
		assert.Equal(t, Canceled, e.Kind)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, sentinelsMatched(err), "not Unavailable: nothing to retry")
		assert.Zero(t, e.Attempts)
		assert.Zero(t, base.count())
	})
	t.Run("during a backoff", func(t *testing.T) {
		t.Parallel()
		base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {notion503, notion503}}}
		clk := notiontest.NewClock(time.Time{})
		tr := &Transport{Base: base, Source: static(testToken), Clock: clk}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := tr.RoundTrip(getPage(t).WithContext(ctx))
			done <- err
		}()
		require.Eventually(t, func() bool { return base.count() == 1 && clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		err := <-done
		e := asError(t, err)
		assert.Equal(t, Canceled, e.Kind, "%v", err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, sentinelsMatched(err))
		assert.Equal(t, 1, e.Attempts, "one request was sent")
		assert.Contains(t, e.Message, "503")
	})
	t.Run("in flight", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		tr := &Transport{Source: static(testToken), Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			cancel()
			<-r.Context().Done()
			return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: r.Context().Err()}
		})}
		_, err := tr.RoundTrip(getPage(t).WithContext(ctx))
		e := asError(t, err)
		assert.Equal(t, Canceled, e.Kind)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, e.Attempts)
	})
	t.Run("deadline during a Retry-After wait", func(t *testing.T) {
		t.Parallel()
		base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {
			answering(429, `{"object":"error","status":429,"code":"rate_limited","message":"x","request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`, "Retry-After", "2"),
		}}}
		clk := notiontest.NewClock(time.Time{})
		tr := &Transport{Base: base, Source: static(testToken), Clock: clk}
		ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(1500*time.Millisecond))
		defer cancel()
		var err error
		stepping(t, clk, 100*time.Millisecond, func() { _, err = tr.RoundTrip(getPage(t).WithContext(ctx)) })
		e := asError(t, err)
		assert.Equal(t, Throttled, e.Kind, "the deadline may fall after the reset (1 to 2 s): it waited, and stays Throttled")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Positive(t, e.RetryAfter)
		assert.LessOrEqual(t, e.RetryAfter, time.Second)
		assert.Equal(t, 1, base.count())
	})
}

func TestSourceFailureHasItsCausesKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		kind Kind
	}{
		{"store unreachable", &StoreError{Op: "get", Key: "k", Err: &fs.PathError{Op: "open", Path: "/g", Err: fs.ErrNotExist}}, Unavailable},
		{"wrong key", &StoreError{Op: "get", Key: "k", Err: ErrWrongKey}, InvalidRequest},
		{"no grant", ErrGrantNotFound, InvalidRequest},
		{"revoked grant", &Error{Kind: AuthRevoked, Code: CodeInvalidGrant, Message: "the grant was revoked"}, AuthRevoked},
		{"cancelled", context.Canceled, Canceled},
		{"unknown", errors.New("nope"), Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := &script{}
			tr := &Transport{Base: base, Source: errSource{tc.err}}
			_, err := tr.RoundTrip(getPage(t))
			e := asError(t, err)
			assert.Equal(t, tc.kind, e.Kind, "%v", err)
			assert.LessOrEqual(t, len(sentinelsMatched(err)), 1, "%v", err)
			assert.Equal(t, 1, strings.Count(err.Error(), "notionauth:"), "one prefix: %s", err)
			assert.Zero(t, base.count())
		})
	}
}

func TestNeverClosesIdleConnectionsOfABaseItWasGiven(t *testing.T) {
	t.Parallel()
	base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {notion502, notion502}}}
	clk := notiontest.NewClock(time.Time{})
	tr := &Transport{Base: base, Source: static(testToken), Clock: clk}
	var err error
	stepping(t, clk, 100*time.Millisecond, func() { _, err = tr.RoundTrip(getPage(t)) })
	require.NoError(t, err)
	assert.Equal(t, 3, base.count())
	assert.Zero(t, base.idle.Load(), "the app's pool is the app's")
}

// TestDeadlineRetryAfterWaitStaysThrottled: a whole-second Retry-After of
// n means the reset falls in (n-1, n] s; only a deadline before n-1 s
// fails at once.
func TestRetryAfterDeadlineUsesTheEarliestReset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		fast     bool
	}{
		{"deadline before the earliest reset", 900 * time.Millisecond, true},
		{"deadline between", 1500 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := &script{byTok: map[string][]func(*http.Request) *http.Response{testToken: {
				answering(429, `{"object":"error","status":429,"code":"rate_limited","message":"x","request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`, "Retry-After", "2"),
			}}}
			clk := notiontest.NewClock(time.Time{})
			tr := &Transport{Base: base, Source: static(testToken), Clock: clk, Pacing: Pacing{Off: true}}
			ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(tc.deadline))
			defer cancel()
			start := clk.Now()
			var err error
			stepping(t, clk, 50*time.Millisecond, func() { _, err = tr.RoundTrip(getPage(t).WithContext(ctx)) })
			e := asError(t, err)
			assert.Equal(t, Throttled, e.Kind)
			if tc.fast {
				assert.NotErrorIs(t, err, context.DeadlineExceeded, "returned at once")
				assert.Equal(t, 2*time.Second, e.RetryAfter)
			} else {
				assert.ErrorIs(t, err, context.DeadlineExceeded, "it waited until the deadline")
				assert.GreaterOrEqual(t, clk.Now().Sub(start), tc.deadline)
			}
		})
	}
}

func TestManyTokensAreAllPaced(t *testing.T) {
	t.Parallel()
	const tokens = 5000
	var sent atomic.Int64
	slow := answering(429, `{"object":"error","status":429,"code":"rate_limited","message":"x","request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`, "Retry-After", "30")
	tr := &Transport{Retry: RetryPolicy{MaxAttempts: 1}, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return slow(r), nil
	})}
	for i := range tokens {
		req := getPage(t)
		req.Header.Set("Authorization", "Bearer ntn_token_"+strconv.Itoa(i))
		_, err := tr.RoundTrip(req)
		require.ErrorIs(t, err, ErrThrottled)
	}
	require.EqualValues(t, tokens, sent.Load())
	// Every token is paused: a call with a deadline before the pause can
	// end fails at once, sending nothing, for the 5000th token as for the
	// first.
	for i := range tokens {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req := getPage(t).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer ntn_token_"+strconv.Itoa(i))
		_, err := tr.RoundTrip(req)
		cancel()
		e := asError(t, err)
		require.Equal(t, ReasonPaced, e.Reason, "token %d: %v", i, err)
	}
	assert.EqualValues(t, tokens, sent.Load(), "nothing sent while paused")
	assert.Equal(t, tokens, tr.st.pacers.len())
}

func TestManyRevokedTokensAreAllRemembered(t *testing.T) {
	t.Parallel()
	const tokens = 5000
	var sent atomic.Int64
	var revoked atomic.Int64
	tr := &Transport{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return notion401(r), nil
	}), OnAuthRevoked: func(context.Context, *Error) { revoked.Add(1) }}
	for round := range 2 {
		for i := range tokens {
			req := getPage(t)
			req.Header.Set("Authorization", "Bearer ntn_token_"+strconv.Itoa(i))
			_, err := tr.RoundTrip(req)
			require.ErrorIs(t, err, ErrAuthRevoked, "round %d, token %d", round, i)
		}
	}
	assert.EqualValues(t, 2*tokens, sent.Load(), "a request and a probe per token, once")
	assert.EqualValues(t, tokens, revoked.Load(), "one callback per token")
}

// TestOwnPoolAfterGatewayErrors: with no Base, the Transport sends through
// a pool of its own. A gateway error closes that pool's idle connections,
// so that the next attempt dials afresh, and never touches
// http.DefaultTransport's, which belong to the whole process.
func TestOwnPoolAfterGatewayErrors(t *testing.T) {
	// Not parallel: it watches http.DefaultTransport's connections.
	var mu sync.Mutex
	bad := "" // the first connection's address: it answers 502 for good
	var conns atomic.Int32
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if bad == "" {
			bad = r.RemoteAddr
		}
		stale := bad == r.RemoteAddr
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if stale {
			w.Header().Set(HeaderRequestID, "50250250-2502-4502-8502-502502502502")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, `{"object":"error","status":502,"code":"bad_gateway","message":"stale","request_id":"50250250-2502-4502-8502-502502502502"}`)
			return
		}
		_, _ = io.WriteString(w, `{"object":"page"}`)
	}))
	api.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	api.Start()
	defer api.Close()

	// An idle connection of the process-wide pool, to another server.
	var other atomic.Int32
	elsewhere := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	elsewhere.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			other.Add(1)
		}
	}
	elsewhere.Start()
	defer elsewhere.Close()
	get := func() {
		resp, err := http.DefaultTransport.RoundTrip(must(http.NewRequest(http.MethodGet, elsewhere.URL, nil)))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get()

	clk := notiontest.NewClock(time.Time{})
	tr := &Transport{Source: static(testToken), Clock: clk}
	req := must(http.NewRequest(http.MethodGet, api.URL+"/v1/pages/"+pageID, nil))
	var err error
	stepping(t, clk, 100*time.Millisecond, func() { _, err = tr.RoundTrip(req) })
	require.NoError(t, err, "the retry went over a new connection")
	assert.EqualValues(t, 2, conns.Load(), "the stale connection was not reused")

	get()
	assert.EqualValues(t, 1, other.Load(), "http.DefaultTransport kept its idle connection")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRevokedTokensKeepNoPace(t *testing.T) {
	t.Parallel()
	tr := &Transport{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) { return notion401(r), nil })}
	for round := range 3 {
		for i := range 100 {
			req := getPage(t)
			req.Header.Set("Authorization", "Bearer ntn_token_"+strconv.Itoa(i))
			_, err := tr.RoundTrip(req)
			require.ErrorIs(t, err, ErrAuthRevoked, "round %d", round)
		}
		assert.Zero(t, tr.st.pacers.len(), "round %d: a revoked token's pace is dropped, and not made again", round)
	}
}
