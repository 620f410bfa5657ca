package notiontest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

// clockServer is a server on a manual clock that starts at epoch, and a
// token.
func clockServer(t *testing.T) (*notiontest.Server, *notiontest.Clock, string) {
	t.Helper()
	s, token := setup(t)
	c := notiontest.NewClock(epoch)
	s.SetClock(c)
	return s, c, token
}

func TestRateLimitOnClock(t *testing.T) {
	t.Parallel()
	type step struct {
		advance    time.Duration // before the request
		status     int
		retryAfter string // header; "" for a 200
		data       string // additional_data.retry_after; "" for a 200
	}
	tests := []struct {
		name  string
		limit notiontest.RateLimit
		steps []step
	}{
		{
			name:  "a minute's window",
			limit: notiontest.RateLimit{Budget: 2, Window: time.Minute},
			steps: []step{
				{0, 200, "", ""},
				{10 * time.Second, 200, "", ""},
				{5 * time.Second, 429, "45", "45"},                     // 15s into the window
				{44*time.Second + 500*time.Millisecond, 429, "1", "1"}, // 59.5s: rounded up
				{500 * time.Millisecond, 200, "", ""},                  // 60s: a new window
				{0, 200, "", ""},
				{0, 429, "60", "60"},
				{time.Hour, 200, "", ""},
			},
		},
		{
			name:  "precise",
			limit: notiontest.RateLimit{Budget: 1, Window: 2500 * time.Millisecond, PreciseRetryAfter: true},
			steps: []step{
				{0, 200, "", ""},
				{63 * time.Millisecond, 429, "3", "2.437"},
				{2*time.Second + 436*time.Millisecond, 429, "1", "0.001"},
				{time.Millisecond, 200, "", ""},
			},
		},
		{
			name:  "default window",
			limit: notiontest.RateLimit{Budget: 1},
			steps: []step{
				{0, 200, "", ""},
				{0, 429, "60", "60"},
				{59 * time.Second, 429, "1", "1"},
				{time.Second, 200, "", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c, token := clockServer(t)
			s.SetRateLimit(tt.limit)
			var want []time.Time
			for i, st := range tt.steps {
				c.Advance(st.advance)
				want = append(want, c.Now())
				r := do(t, s, "GET", "/v1/users/me", token, nil)
				require.Equal(t, st.status, r.status, "step %d at %v: status", i, c.Now().Sub(epoch))
				if st.status != http.StatusTooManyRequests {
					continue
				}
				e := r.apiErr(t)
				assert.Equal(t, st.retryAfter, r.header.Get("Retry-After"), "step %d: Retry-After", i)
				assert.Equal(t, st.data, e.AdditionalData["retry_after"], "step %d: additional_data.retry_after", i)
			}
			var got []time.Time
			for _, req := range s.Requests() {
				got = append(got, req.Time)
			}
			assert.Equal(t, want, got, "the log's times are the clock's")
		})
	}
}

func TestSetClockRestartsWindows(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.SetRateLimit(notiontest.RateLimit{Budget: 1, Window: time.Minute})
	require.Equal(t, 200, do(t, s, "GET", "/v1/users/me", token, nil).status)
	require.Equal(t, 429, do(t, s, "GET", "/v1/users/me", token, nil).status)

	c := notiontest.NewClock(epoch)
	s.SetClock(c)
	require.Equal(t, 200, do(t, s, "GET", "/v1/users/me", token, nil).status, "a window on the new clock")
	r := do(t, s, "GET", "/v1/users/me", token, nil)
	require.Equal(t, 429, r.status)
	assert.Equal(t, "60", r.header.Get("Retry-After"))

	s.SetClock(nil)
	require.Equal(t, 200, do(t, s, "GET", "/v1/users/me", token, nil).status, "back on the system clock")
	reqs := s.Requests()
	require.Len(t, reqs, 5)
	assert.Equal(t, epoch, reqs[2].Time, "logged on the manual clock")
	assert.WithinDuration(t, time.Now(), reqs[4].Time, time.Minute, "logged on the system clock")
}

// TestLatencyOnClock: a Latency fault waits on the clock, and ends when
// the clock is advanced by its delay, not before.
func TestLatencyOnClock(t *testing.T) {
	t.Parallel()
	s, c, token := clockServer(t)
	s.Inject(notiontest.Latency(time.Minute))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan response, 1)
	go func() {
		req := newRequest(t, "GET", "/v1/users/me", token, nil)
		resp, err := s.Client().Do(req.WithContext(ctx))
		if err != nil {
			done <- response{}
			return
		}
		resp.Body.Close()
		done <- response{status: resp.StatusCode}
	}()

	require.NoError(t, c.WaitPending(ctx, 1), "the handler waits on the clock")
	c.Advance(59 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("answered (status %d) after 59s of a minute's latency", r.status)
	case <-time.After(50 * time.Millisecond):
	}
	assert.Equal(t, 1, c.Pending(), "still waiting")

	start := time.Now()
	c.Advance(time.Second)
	select {
	case r := <-done:
		assert.Equal(t, http.StatusOK, r.status)
	case <-ctx.Done():
		t.Fatal("no answer once the clock passed the latency")
	}
	assert.Less(t, time.Since(start), 10*time.Second, "no real wait")
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, epoch, reqs[0].Time, "logged at arrival, before the delay")
}

func TestLatencyOnClockEndsEarly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(s *notiontest.Server, cancel context.CancelFunc)
	}{
		{"the client goes away", func(_ *notiontest.Server, cancel context.CancelFunc) { cancel() }},
		{"the server closes", func(s *notiontest.Server, _ context.CancelFunc) { s.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c, token := clockServer(t)
			s.Inject(notiontest.Latency(time.Minute))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			reqCtx, reqCancel := context.WithCancel(ctx)
			defer reqCancel()
			errc := make(chan error, 1)
			go func() {
				req := newRequest(t, "GET", "/v1/users/me", token, nil)
				resp, err := s.Client().Do(req.WithContext(reqCtx))
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			require.NoError(t, c.WaitPending(ctx, 1))
			tt.end(s, reqCancel)
			select {
			case err := <-errc:
				assert.Error(t, err, "no answer")
			case <-ctx.Done():
				t.Fatal("the request did not end")
			}
			require.Eventually(t, func() bool { return c.Pending() == 0 }, 10*time.Second, time.Millisecond,
				"the handler stops its timer: got %d pending, want 0", c.Pending())
		})
	}
}

func TestTimesOnClock(t *testing.T) {
	t.Parallel()
	s, c, token := clockServer(t)
	s.AddOAuthClient(clientID, clientSecret, redirectURI)
	page := s.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
	s.Share(page, token)

	c.Advance(time.Hour)
	r := do(t, s, "PATCH", "/v1/pages/"+page, token, map[string]any{"archived": true})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	m := r.json(t)
	assert.Equal(t, "2026-03-11T09:00:00.000Z", m["created_time"], "created at the clock's start")
	assert.Equal(t, "2026-03-11T10:00:00.000Z", m["last_edited_time"], "edited an hour later")

	c.Advance(time.Hour)
	tr := exchange(t, s)
	other := s.NewToken()
	for _, tok := range []string{tr.AccessToken, tr.RefreshToken, other} {
		r := oauth(t, s, "introspect", clientID, clientSecret, map[string]any{"token": tok})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		assert.Equal(t, float64(epoch.Add(2*time.Hour).Unix()), r.json(t)["iat"], "issued on the clock")
	}
}
