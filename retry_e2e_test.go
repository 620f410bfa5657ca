package notionauth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
)

// retryEnv is newEnv with backoffs of at most a few milliseconds, so that
// retried failures cost no noticeable time.
func retryEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.tr.Retry.BaseDelay = 5 * time.Millisecond
	return e
}

// logged returns the logged requests with the method ("": any) whose path
// matches path ("": any; a trailing "*" matches by prefix, as in Fault).
func logged(e *env, method, path string) []notiontest.Request {
	var out []notiontest.Request
	for _, r := range e.srv.Requests() {
		if method != "" && r.Method != method {
			continue
		}
		if prefix, ok := strings.CutSuffix(path, "*"); ok && !strings.HasPrefix(r.Path, prefix) ||
			!ok && path != "" && r.Path != path {
			continue
		}
		out = append(out, r)
	}
	return out
}

func statuses(reqs []notiontest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

func createPageBody(parent string) string {
	return `{"parent":{"page_id":"` + parent + `"},"properties":{"title":{"title":[{"text":{"content":"child"}}]}}}`
}

// preciseRateLimited is a 429 whose Retry-After header says 1 s (whole
// seconds, as Notion sends it) while additional_data.retry_after says d
// more precisely: the Transport honours the precise value.
func preciseRateLimited(d time.Duration) notiontest.Fault {
	f := notiontest.RateLimited(time.Second)
	f.AdditionalData["retry_after"] = fmt.Sprintf("%.3f", d.Seconds())
	return f
}

func TestRetryThrottledWriteResendsSameBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := notiontest.RateLimited(time.Second)
	f.Method, f.Path = http.MethodPost, "/v1/pages"
	e.srv.Inject(f)

	page, err := e.client.Page.Create(context.Background(), &notionapi.PageCreateRequest{
		Parent: notionapi.Parent{Type: notionapi.ParentTypePageID, PageID: notionapi.PageID(e.page)},
		Properties: notionapi.Properties{"title": notionapi.TitleProperty{
			Title: []notionapi.RichText{{Text: &notionapi.Text{Content: "written once"}}},
		}},
	})
	require.NoError(t, err, "the 429 is waited out and the write re-sent")
	assert.NotEmpty(t, page.ID)

	reqs := logged(e, http.MethodPost, "/v1/pages")
	require.Len(t, reqs, 2, "one 429, one re-send")
	assert.Equal(t, []int{429, 200}, statuses(reqs))
	assert.NotEmpty(t, reqs[0].Body)
	assert.Equal(t, string(reqs[0].Body), string(reqs[1].Body), "the re-sent body is the original one")
	assert.Contains(t, string(reqs[1].Body), "written once")
	assert.GreaterOrEqual(t, reqs[1].Time.Sub(reqs[0].Time), 900*time.Millisecond,
		"the re-send waited out Retry-After: 1")

	st := e.tr.Stats()
	assert.Equal(t, notionauth.Stats{Requests: 2, Retries: 1, Throttled: 1, Waits: 1, Waited: st.Waited}, st)
	assert.GreaterOrEqual(t, st.Waited, 800*time.Millisecond)
}

// A body that cannot be rewound (no GetBody) is sent once, even on a 429.
func TestRetryThrottledUnrewindableBodySentOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := notiontest.RateLimited(time.Second)
	f.Path = "/v1/search"
	e.srv.Inject(f)
	req, err := http.NewRequest(http.MethodPost, "https://api.notion.com/v1/search",
		io.NopCloser(strings.NewReader(`{"query":"Roadmap"}`)))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	req.Header.Set("Notion-Version", notionauth.DefaultNotionVersion)
	start := e.clock.Now()
	_, err = e.http.Do(req)
	ne := notionErr(t, err)
	assert.ErrorIs(t, err, notionauth.ErrThrottled)
	assert.Equal(t, 1, ne.Attempts)
	assert.Equal(t, time.Second, ne.RetryAfter)
	assert.Less(t, e.clock.Now().Sub(start), 900*time.Millisecond, "nothing to wait for: it cannot be re-sent")
	assert.Len(t, e.srv.Requests(), 1)
}

func TestRetryThrottledBeyondMaxWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tr.Retry.MaxWait = time.Second
	e.srv.Inject(notiontest.RateLimited(5 * time.Second))

	start := e.clock.Now()
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	ne := notionErr(t, err)
	assert.ErrorIs(t, err, notionauth.ErrThrottled)
	assert.Equal(t, 5*time.Second, ne.RetryAfter)
	assert.Equal(t, 429, ne.StatusCode)
	assert.Equal(t, notionauth.ReasonRequestRateLimit, ne.Reason)
	assert.Equal(t, 1, ne.Attempts)
	assert.Len(t, e.srv.Requests(), 1, "not retried")
	assert.Less(t, e.clock.Now().Sub(start), 4*time.Second, "returned without sleeping through Retry-After")

	// The pause is the token's: the next call does not even ask Notion.
	start = e.clock.Now()
	_, err = e.client.Block.GetChildren(context.Background(), notionapi.BlockID(e.page), nil)
	ne = notionErr(t, err)
	assert.ErrorIs(t, err, notionauth.ErrThrottled)
	assert.Equal(t, notionauth.ReasonPaced, ne.Reason)
	assert.Zero(t, ne.StatusCode)
	assert.Zero(t, ne.Attempts, "nothing sent")
	assert.Greater(t, ne.RetryAfter, 3*time.Second, "what is left of the pause")
	assert.LessOrEqual(t, ne.RetryAfter, 5*time.Second)
	assert.Len(t, e.srv.Requests(), 1, "a paused token sends nothing")
	assert.Less(t, e.clock.Now().Sub(start), 4*time.Second)
	assert.Zero(t, e.tr.Stats().Retries)
}

func TestRetryThrottledBeyondDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // MaxWait is the default minute
	e.srv.Inject(notiontest.RateLimited(5 * time.Second))
	ctx := e.deadline(t, 3*time.Second)

	start := e.clock.Now()
	_, err := e.client.Page.Get(ctx, notionapi.PageID(e.page))
	ne := notionErr(t, err)
	assert.ErrorIs(t, err, notionauth.ErrThrottled)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "returned before the deadline")
	assert.Equal(t, 5*time.Second, ne.RetryAfter)
	assert.Equal(t, 1, ne.Attempts)
	assert.Len(t, e.srv.Requests(), 1)
	assert.Less(t, e.clock.Now().Sub(start), 2*time.Second, "returned at once, not at the deadline")

	_, err = e.client.Page.Get(ctx, notionapi.PageID(e.page))
	ne = notionErr(t, err)
	assert.ErrorIs(t, err, notionauth.ErrThrottled)
	assert.Equal(t, notionauth.ReasonPaced, ne.Reason)
	assert.Zero(t, ne.Attempts)
	assert.Len(t, e.srv.Requests(), 1, "a paused token sends nothing")
	assert.NoError(t, ctx.Err(), "both calls returned well before the deadline")
}

// TestRetryServerErrors: 5xx answers are retried for requests that are
// safe to repeat, and only for them.
func TestRetryServerErrors(t *testing.T) {
	t.Parallel()
	const committedID = "59833787-2cf9-4fdf-8782-e53db20768a5"
	tests := []struct {
		name   string
		method string
		path   func(e *env) string
		body   func(e *env) string
		fault  notiontest.Fault
		sent   int  // requests the call sends
		ok     bool // the call succeeds in the end
		check  func(t *testing.T, ne *notionauth.Error)
	}{
		{
			name: "GET 503 503 200", method: http.MethodGet,
			path:  func(e *env) string { return "/v1/pages/" + e.page },
			fault: withTimes(notiontest.ServerError(503), 2), sent: 3, ok: true,
		},
		{
			name: "GET 502 502 502 200", method: http.MethodGet,
			path:  func(e *env) string { return "/v1/blocks/" + e.block },
			fault: withTimes(notiontest.ServerError(502), 3), sent: 4, ok: true,
		},
		{
			name: "GET edge 502 page", method: http.MethodGet,
			path:  func(e *env) string { return "/v1/pages/" + e.page },
			fault: notiontest.EdgeHTML(502), sent: 2, ok: true,
		},
		{
			name: "DELETE 503", method: http.MethodDelete,
			path:  func(e *env) string { return "/v1/blocks/" + e.block },
			fault: notiontest.ServerError(503), sent: 2, ok: true,
		},
		{
			name: "POST search 503", method: http.MethodPost,
			path:  func(*env) string { return "/v1/search" },
			body:  func(*env) string { return `{"query":"Roadmap"}` },
			fault: notiontest.ServerError(503), sent: 2, ok: true,
		},
		{
			name: "POST database query 503", method: http.MethodPost,
			path:  func(e *env) string { return "/v1/databases/" + e.database + "/query" },
			body:  func(*env) string { return `{}` },
			fault: notiontest.ServerError(503), sent: 2, ok: true,
		},
		{
			name: "POST data source query 504", method: http.MethodPost,
			path:  func(e *env) string { return "/v1/data_sources/" + e.source + "/query" },
			body:  func(*env) string { return `{}` },
			fault: notiontest.ServerError(504), sent: 2, ok: true,
		},
		{
			name: "POST pages 503", method: http.MethodPost,
			path:  func(*env) string { return "/v1/pages" },
			body:  func(e *env) string { return createPageBody(e.page) },
			fault: notiontest.ServerError(503), sent: 1,
			check: func(t *testing.T, ne *notionauth.Error) {
				assert.Equal(t, 503, ne.StatusCode)
				assert.Empty(t, ne.Reason)
			},
		},
		{
			name: "PATCH page 502", method: http.MethodPatch,
			path:  func(e *env) string { return "/v1/pages/" + e.page },
			body:  func(*env) string { return `{"archived":false}` },
			fault: notiontest.ServerError(502), sent: 1,
		},
		{
			name: "POST pages 503 maybe committed", method: http.MethodPost,
			path: func(*env) string { return "/v1/pages" },
			body: func(e *env) string { return createPageBody(e.page) },
			fault: notiontest.Fault{Status: 503, AdditionalData: map[string]any{
				"retry_guidance":        []string{"The request may have been committed; check before retrying."},
				"committed_resource_id": strings.ReplaceAll(committedID, "-", ""),
			}},
			sent: 1,
			check: func(t *testing.T, ne *notionauth.Error) {
				assert.Equal(t, notionauth.ReasonMaybeCommitted, ne.Reason)
				assert.Equal(t, committedID, ne.ObjectID, "dashed")
			},
		},
		{
			name: "POST search 503 maybe committed", method: http.MethodPost,
			path: func(*env) string { return "/v1/search" },
			body: func(*env) string { return `{}` },
			fault: notiontest.Fault{Status: 503, AdditionalData: map[string]any{
				"retry_guidance": []string{"do not retry"},
			}},
			sent: 1,
			check: func(t *testing.T, ne *notionauth.Error) {
				assert.Equal(t, notionauth.ReasonMaybeCommitted, ne.Reason)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := retryEnv(t)
			path := tc.path(e)
			tc.fault.Method, tc.fault.Path = tc.method, path
			e.srv.Inject(tc.fault)
			body := ""
			if tc.body != nil {
				body = tc.body(e)
			}
			resp, err := e.do(t, tc.method, path, body)
			reqs := logged(e, tc.method, path)
			assert.Len(t, reqs, tc.sent, "requests sent: %v", statuses(reqs))
			for _, r := range reqs {
				assert.Equal(t, body, string(r.Body), "every attempt carries the body")
			}
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.EqualValues(t, tc.sent-1, e.tr.Stats().Retries)
				return
			}
			ne := notionErr(t, err)
			assert.Equal(t, notionauth.Unavailable, ne.Kind, "%v", ne)
			assert.ErrorIs(t, err, notionauth.ErrUnavailable)
			assert.Equal(t, tc.sent, ne.Attempts, "Attempts counts the requests sent")
			assert.Zero(t, e.tr.Stats().Retries)
			if tc.check != nil {
				tc.check(t, ne)
			}
		})
	}
}

func withTimes(f notiontest.Fault, n int) notiontest.Fault {
	f.Times = n
	return f
}

// TestRetryNeverRetried: answers no retry can fix are sent once.
func TestRetryNeverRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(e *env)
		sentinel error
	}{
		{"blocked 429", func(e *env) { e.srv.Inject(notiontest.Blocked()) }, notionauth.ErrBlocked},
		{"edge 403", func(e *env) { e.srv.Inject(notiontest.EdgeHTML(403)) }, notionauth.ErrBlocked},
		{"unshared page", func(e *env) { e.srv.Unshare(e.page, e.token) }, notionauth.ErrPermissionLost},
		{"block limit", func(e *env) { e.srv.Inject(notiontest.BlockLimit()) }, notionauth.ErrPermissionLost},
		{"validation_error", func(e *env) {
			e.srv.Inject(notiontest.Fault{Status: 400, Code: "validation_error", Message: "body failed validation"})
		}, notionauth.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := retryEnv(t)
			tc.setup(e)
			start := e.clock.Now()
			_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
			ne := notionErr(t, err)
			assert.ErrorIs(t, err, tc.sentinel)
			assert.Equal(t, 1, ne.Attempts)
			assert.Len(t, e.srv.Requests(), 1, "sent once")
			assert.Less(t, e.clock.Now().Sub(start), 5*time.Second)
			st := e.tr.Stats()
			assert.Zero(t, st.Retries)
			assert.Zero(t, st.Throttled, "a blocked 429 is not throttling")
			assert.Zero(t, st.Waits)

			// Nothing was paused: the next call goes straight through.
			_, err = e.client.Search.Do(context.Background(), &notionapi.SearchRequest{})
			assert.NoError(t, err)
		})
	}
}

func TestRetryConflict(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodPatch, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			e := retryEnv(t)
			path, body := "/v1/pages/"+e.page, `{"properties":{"title":{"title":[{"text":{"content":"renamed"}}]}}}`
			if method == http.MethodPost {
				path, body = "/v1/pages", createPageBody(e.page)
			}
			f := notiontest.Conflict()
			f.Times = 2
			f.Method = method
			e.srv.Inject(f)
			resp, err := e.do(t, method, path, body)
			require.NoError(t, err, "409 is retried for any method")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			reqs := logged(e, method, path)
			assert.Equal(t, []int{409, 409, 200}, statuses(reqs))
			for _, r := range reqs {
				assert.Equal(t, body, string(r.Body))
			}
			assert.EqualValues(t, 2, e.tr.Stats().Retries)
		})
	}
}

// TestRetrySharedPause: one 429 pauses every goroutine of the token, not
// only the one that met it.
func TestRetrySharedPause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		reason string // rate_limit_reason of the 429
		pacing notionauth.Pacing
	}{
		// The workspace's limit pauses the token and teaches no budget.
		{"workspace limit", notiontest.ReasonSpaceRateLimit, notionauth.Pacing{}},
		// The connection's limit also teaches a budget: with a 1 s window,
		// waiting for the next window stays within MaxWait.
		{"connection limit, 1 s window", notiontest.ReasonRequestRateLimit, notionauth.Pacing{Window: time.Second}},
		// A lone 429 in a window the pacer did not see from its start
		// teaches nothing: the calls go on after the pause.
		{"connection limit, default window", notiontest.ReasonRequestRateLimit, notionauth.Pacing{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.tr.Pacing = tc.pacing
			f := notiontest.RateLimited(time.Second)
			f.Token = e.token
			f.AdditionalData["rate_limit_reason"] = tc.reason
			e.srv.Inject(f)

			const workers, each = 8, 10
			var wg sync.WaitGroup
			var mu sync.Mutex
			var errs []error
			calls := 0
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
						mu.Lock()
						calls++
						if err != nil {
							errs = append(errs, err)
						}
						mu.Unlock()
						if err != nil {
							return
						}
					}
				}()
			}
			wg.Wait()
			require.Empty(t, errs, "every call succeeds")

			reqs := logged(e, "", "")
			var throttled []notiontest.Request
			for _, r := range reqs {
				if r.Status == 429 {
					throttled = append(throttled, r)
				}
			}
			require.Len(t, throttled, 1)
			at := throttled[0].Time
			after := 0
			for _, r := range reqs {
				d := r.Time.Sub(at)
				assert.False(t, d > 100*time.Millisecond && d < 900*time.Millisecond,
					"a request arrived %v after the 429, during the pause", d)
				if d >= 900*time.Millisecond {
					after++
				}
			}
			assert.Positive(t, after, "requests resumed after the pause")
			st := e.tr.Stats()
			assert.EqualValues(t, 1, st.Throttled)
			assert.GreaterOrEqual(t, st.Waits, int64(1))
			assert.EqualValues(t, len(reqs), st.Requests)
			assert.EqualValues(t, calls+1, st.Requests, "one request per call, and one re-send")
		})
	}
}

// TestRetryLearnedBudget: the first window that ends in a 429 teaches the
// budget; later windows meet no 429.
func TestRetryLearnedBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		pacing notionauth.Pacing
	}{
		{"learned", notionauth.Pacing{Window: time.Second}},
		{"configured", notionauth.Pacing{Budget: 5, Window: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.srv.SetRateLimit(notiontest.RateLimit{Budget: 5, Window: time.Second, PreciseRetryAfter: true})
			e.tr.Pacing = tc.pacing

			const workers, each = 4, 5
			var wg sync.WaitGroup
			errs := make([]error, workers*each)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						_, errs[w*each+i] = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
					}
				}()
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}

			reqs := logged(e, "", "")
			first, firstOKAfter := -1, -1
			var throttled []time.Time
			for i, r := range reqs {
				switch {
				case r.Status == 429:
					throttled = append(throttled, r.Time)
					if first < 0 {
						first = i
					}
				case first >= 0 && firstOKAfter < 0:
					firstOKAfter = i // the first request of the next window
				}
			}
			st := e.tr.Stats()
			assert.EqualValues(t, len(throttled), st.Throttled)
			if tc.pacing.Budget > 0 {
				assert.Empty(t, throttled, "a configured budget meets no 429")
				assert.Len(t, reqs, workers*each)
				return
			}
			require.NotEmpty(t, throttled, "the first window ends in a 429")
			assert.LessOrEqual(t, len(throttled), workers, "at most the requests in flight meet the 429")
			for _, at := range throttled {
				assert.Less(t, at.Sub(reqs[first].Time), 1100*time.Millisecond, "429 after the first throttled window")
			}
			require.Positive(t, firstOKAfter)
			for _, r := range reqs[firstOKAfter:] {
				assert.NotEqual(t, 429, r.Status, "a 429 in a later window, at %v", r.Time.Sub(reqs[first].Time))
			}
			assert.Len(t, reqs, workers*each+len(throttled), "each 429 re-sent once")
		})
	}
}

func TestRetryMaxAttempts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, sent int
	}{
		{1, 1}, {2, 2}, {0, notionauth.DefaultMaxAttempts}, {6, 6},
	} {
		t.Run(fmt.Sprintf("max %d", tc.max), func(t *testing.T) {
			t.Parallel()
			e := retryEnv(t)
			e.tr.Retry.MaxAttempts = tc.max
			e.tr.Retry.BaseDelay = time.Millisecond
			e.srv.Inject(withTimes(notiontest.ServerError(503), -1))
			_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
			ne := notionErr(t, err)
			assert.ErrorIs(t, err, notionauth.ErrUnavailable)
			assert.Equal(t, tc.sent, ne.Attempts, "MaxAttempts %d", tc.max)
			assert.Len(t, e.srv.Requests(), tc.sent, "MaxAttempts %d", tc.max)
			assert.EqualValues(t, tc.sent-1, e.tr.Stats().Retries)
		})
	}
}

// TestRetryMaxAttemptsThrottled: a run of 429s also stops at MaxAttempts.
func TestRetryMaxAttemptsThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tr.Retry.MaxAttempts = 3
	f := preciseRateLimited(20 * time.Millisecond)
	f.Times = -1
	e.srv.Inject(f)
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	ne := notionErr(t, err)
	assert.ErrorIs(t, err, notionauth.ErrThrottled)
	assert.Equal(t, 20*time.Millisecond, ne.RetryAfter, "the precise retry_after is used")
	assert.Equal(t, 3, ne.Attempts)
	assert.Len(t, e.srv.Requests(), 3)
	st := e.tr.Stats()
	assert.EqualValues(t, 3, st.Throttled)
	assert.EqualValues(t, 2, st.Retries)
}

// TestRetryBudget: failure retries stop once the budget is spent, however
// many calls fail.
func TestRetryBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tr.Retry = notionauth.RetryPolicy{RetryBurst: 2, RetryRatio: 0.0001, BaseDelay: time.Millisecond}
	e.srv.Inject(withTimes(notiontest.ServerError(503), -1))
	const calls = 6
	for i := range calls {
		before := len(e.srv.Requests())
		_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
		ne := notionErr(t, err)
		assert.ErrorIs(t, err, notionauth.ErrUnavailable, "call %d", i)
		assert.Equal(t, len(e.srv.Requests())-before, ne.Attempts, "call %d: Attempts is the requests it sent", i)
	}
	st := e.tr.Stats()
	assert.LessOrEqual(t, st.Retries, int64(3), "retries stop at about the burst")
	assert.GreaterOrEqual(t, st.Retries, int64(2), "the burst is spent")
	assert.EqualValues(t, calls+st.Retries, st.Requests)

	// Waits Notion asked for are not failure retries: a 429 is still
	// retried with the budget spent.
	e.srv.ClearFaults()
	e.srv.Inject(preciseRateLimited(10 * time.Millisecond))
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err)
}

// TestRetryCancelDuringBackoff: a backoff that would outlast the context
// is not started, or is cut short by it; either way the call ends soon as
// Unavailable.
func TestRetryCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tr.Retry = notionauth.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Second}
	e.srv.Inject(withTimes(notiontest.ServerError(503), -1))
	ctx := e.deadline(t, 200*time.Millisecond)
	start := e.clock.Now()
	_, err := e.client.Page.Get(ctx, notionapi.PageID(e.page))
	assert.Less(t, e.clock.Now().Sub(start), 5*time.Second)
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.Unavailable, ne.Kind)
	assert.ErrorIs(t, err, notionauth.ErrUnavailable)
	assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Equal(t, 503, ne.StatusCode)
	assert.Equal(t, len(e.srv.Requests()), ne.Attempts)
	if ne.Attempts == 1 {
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "returned before the deadline")
	}
}

// TestRetryCancelDuringPause: a call waiting for its token's pause
// returns when its context ends, sending nothing.
func TestRetryCancelDuringPause(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // MaxWait is the default minute
	e.manual()
	e.srv.Inject(notiontest.RateLimited(5 * time.Second))
	short := e.deadline(t, time.Second)
	_, err := e.client.Page.Get(short, notionapi.PageID(e.page))
	require.ErrorIs(t, err, notionauth.ErrThrottled, "5 s is beyond the deadline: returned at once")

	ctx, cancel := context.WithCancel(context.Background())
	start := e.clock.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := e.client.Page.Get(ctx, notionapi.PageID(e.page))
		errc <- err
	}()
	require.NoError(t, e.clock.WaitPending(context.Background(), 1), "it waits for the pause")
	e.clock.Advance(100 * time.Millisecond)
	cancel()
	err = <-errc
	elapsed := e.clock.Now().Sub(start)
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.Canceled, ne.Kind, "the app cancelled it: not a failure to retry")
	assert.NotErrorIs(t, err, notionauth.ErrThrottled)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, notionauth.ReasonPaced, ne.Reason, "it was waiting for the pause")
	assert.Zero(t, ne.Attempts)
	assert.GreaterOrEqual(t, elapsed, 90*time.Millisecond, "it waited for the pause")
	assert.Less(t, elapsed, 4*time.Second, "until its context ended")
	assert.Len(t, e.srv.Requests(), 1, "a paused token sends nothing")

	// The cancelled waiter left the queue: the next one is told the same
	// remaining pause, not one grown by a ghost.
	_, err = e.client.Page.Get(short, notionapi.PageID(e.page))
	ne = notionErr(t, err)
	assert.Equal(t, notionauth.ReasonPaced, ne.Reason)
	assert.LessOrEqual(t, ne.RetryAfter, 5*time.Second)
}

// rewriteTo sends every request to host over plain HTTP.
type rewriteTo struct {
	host string
	rt   http.RoundTripper
}

func (r rewriteTo) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", r.host, ""
	return r.rt.RoundTrip(out)
}

// TestRetryDialError: a request whose connection could not be made never
// left, so even a write is sent again.
func TestRetryDialError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())

	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	tr := &notionauth.Transport{
		Base:   rewriteTo{host: closed, rt: base},
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ntn_dialtoken"}),
		Retry:  notionauth.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond},
	}
	client := &http.Client{Transport: tr}
	req, err := http.NewRequest(http.MethodPost, "https://api.notion.com/v1/pages",
		strings.NewReader(`{"parent":{"workspace":true}}`))
	require.NoError(t, err)
	_, err = client.Do(req)
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.Unavailable, ne.Kind)
	assert.Zero(t, ne.StatusCode)
	assert.Equal(t, 3, ne.Attempts, "a dial failure is retried whatever the method")
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
	st := tr.Stats()
	assert.EqualValues(t, 3, st.Requests)
	assert.EqualValues(t, 2, st.Retries)
}

// TestRetryNoLeaks: retried 429s and 5xx leave no goroutines behind and
// open few connections.
func TestRetryNoLeaks(t *testing.T) {
	e := retryEnv(t)
	e.tr.Retry.RetryRatio = -1 // no budget: every round is retried alike
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	retried5xx := 0
	const rounds = 5
	for i := range rounds {
		throttle := preciseRateLimited(20 * time.Millisecond)
		if i == 0 {
			throttle = notiontest.RateLimited(time.Second) // whole seconds only
		}
		// The workspace's limit: it pauses the token but teaches no
		// budget, which the few calls of this test would make tiny.
		throttle.AdditionalData["rate_limit_reason"] = notiontest.ReasonSpaceRateLimit
		e.srv.Inject(throttle)
		_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
		require.NoError(t, err)
		e.srv.Inject(withTimes(notiontest.ServerError(502), 2))
		_, err = e.client.Block.GetChildren(context.Background(), notionapi.BlockID(e.page), nil)
		require.NoError(t, err)
		retried5xx += 2
		e.srv.Inject(withTimes(notiontest.EdgeHTML(503), -1))
		_, err = e.client.Search.Do(context.Background(), &notionapi.SearchRequest{})
		require.ErrorIs(t, err, notionauth.ErrUnavailable)
		e.srv.ClearFaults()
		retried5xx += notionauth.DefaultMaxAttempts - 1
	}
	st := e.tr.Stats()
	assert.EqualValues(t, rounds, st.Throttled)
	assert.LessOrEqual(t, e.srv.Connections(), retried5xx+2, "connections for %d requests", st.Requests)
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 },
		10*time.Second, 10*time.Millisecond, "goroutines: before %d, now %d", before, runtime.NumGoroutine())
}

// TestRetryEvents: OnEvent and Logger see every retry, pause and wait,
// and never the token.
func TestRetryEvents(t *testing.T) {
	t.Parallel()
	e := retryEnv(t)
	var mu sync.Mutex
	var events []notionauth.Event
	e.tr.OnEvent = func(ev notionauth.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
	}
	var buf bytes.Buffer
	e.tr.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv.Inject(notiontest.ServerError(503))
	e.srv.Inject(preciseRateLimited(100 * time.Millisecond))

	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err)
	require.Equal(t, []int{503, 429, 200}, statuses(e.srv.Requests()))

	mu.Lock()
	defer mu.Unlock()
	path := "/v1/pages/" + e.page
	require.Len(t, events, 4, "%+v", events)
	want := []notionauth.Event{
		{Type: notionauth.EventRetry, Kind: notionauth.Unavailable, StatusCode: 503, Attempt: 1},
		{Type: notionauth.EventPause, Kind: notionauth.Throttled, StatusCode: 429, Attempt: 2,
			Reason: notionauth.ReasonRequestRateLimit, Wait: 100 * time.Millisecond},
		{Type: notionauth.EventRetry, Kind: notionauth.Throttled, StatusCode: 429, Attempt: 2,
			Reason: notionauth.ReasonRequestRateLimit, Wait: 0}, // the pace holds it: see the wait
		{Type: notionauth.EventWait, Kind: notionauth.Throttled, Attempt: 3},
	}
	for i := range want {
		want[i].Method, want[i].Path = http.MethodGet, path
	}
	// Waits that depend on the clock or on jitter are checked apart.
	assert.LessOrEqual(t, events[0].Wait, e.tr.Retry.BaseDelay, "the first backoff")
	assert.Greater(t, events[3].Wait, 50*time.Millisecond, "waited for the pause")
	assert.Less(t, events[3].Wait, 5*time.Second)
	events[0].Wait, events[3].Wait = 0, 0
	assert.Equal(t, want, events)

	st := e.tr.Stats()
	assert.EqualValues(t, 2, st.Retries)
	assert.EqualValues(t, 1, st.Waits)
	assert.EqualValues(t, 1, st.Throttled)

	log := buf.String()
	for _, msg := range []string{"notionauth: retry", "notionauth: pause", "notionauth: wait"} {
		assert.Contains(t, log, "msg=\""+msg+"\"")
	}
	assert.Equal(t, 4, strings.Count(log, "level=DEBUG"), log)
	assert.Contains(t, log, "status=503")
	assert.Contains(t, log, "kind=throttled")
	assert.NotContains(t, log, e.token)
	for _, ev := range events {
		assert.NotContains(t, ev.Path, e.token)
	}
}
