package notionauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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

const (
	testToken  = "ntn_4f3c2b1a09876543210fedcbaTESTTOKEN"
	otherToken = "ntn_99999999999999999999999999OTHER"
	pageID     = "59833787-2cf9-4fdf-8782-e53db20768a5"
)

// roundTripFunc stubs a Base transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeCounter is a body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func newBody(s string) *closeCounter { return &closeCounter{Reader: strings.NewReader(s)} }

const unauthorizedBody = `{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid.","request_id":"40140140-1401-4401-8401-401401401401"}`

// reply builds a response to r with a JSON body that counts its closes.
func reply(r *http.Request, status int, body string) (*http.Response, *closeCounter) {
	b := newBody(body)
	h := http.Header{"Content-Type": {"application/json"}}
	if status >= 400 && strings.HasPrefix(body, "{") {
		h.Set(HeaderRequestID, "4d1e2a3b-0c9d-4e8f-9a7b-6c5d4e3f2a1b")
	}
	return &http.Response{StatusCode: status, Header: h, Body: b, Request: r}, b
}

// fakeAPI answers like Notion for a set of valid tokens and records what it
// was sent. Its handler for the call under test is swapped per test.
type fakeAPI struct {
	mu       sync.Mutex
	valid    map[string]bool
	probes   int
	calls    int
	bodies   []*closeCounter
	lastReq  *http.Request
	onCall   func(r *http.Request) (int, string) // status and body for non-probe calls
	onProbe  func(r *http.Request) (*http.Response, error)
	probeHit chan struct{}
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{valid: map[string]bool{testToken: true, otherToken: true}}
}

func (f *fakeAPI) token(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (f *fakeAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
		_, _ = io.Copy(io.Discard, r.Body)
	}
	f.mu.Lock()
	if strings.HasSuffix(r.URL.Path, probePath) {
		f.probes++
		onProbe, hit := f.onProbe, f.probeHit
		valid := f.valid[f.token(r)]
		f.mu.Unlock()
		if hit != nil {
			hit <- struct{}{}
		}
		if onProbe != nil {
			return onProbe(r)
		}
		if !valid {
			resp, _ := reply(r, 401, unauthorizedBody)
			return resp, nil
		}
		resp, _ := reply(r, 200, `{"object":"user","id":"bot"}`)
		return resp, nil
	}
	f.calls++
	f.lastReq = r
	onCall := f.onCall
	valid := f.valid[f.token(r)]
	f.mu.Unlock()
	status, body := 200, `{"object":"page","id":"`+pageID+`"}`
	if !valid {
		status, body = 401, unauthorizedBody
	}
	if onCall != nil {
		status, body = onCall(r)
	}
	resp, b := reply(r, status, body)
	f.mu.Lock()
	f.bodies = append(f.bodies, b)
	f.mu.Unlock()
	return resp, nil
}

func (f *fakeAPI) counts() (calls, probes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.probes
}

func (f *fakeAPI) revoke(tok string) {
	f.mu.Lock()
	f.valid[tok] = false
	f.mu.Unlock()
}

func static(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
}

func getPage(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://api.notion.com/v1/pages/"+pageID+"?filter_properties=title", nil)
	require.NoError(t, err)
	req.Header.Set("Notion-Version", "2025-09-03")
	return req
}

func postWithBody(t *testing.T, path, body string) (*http.Request, *closeCounter, *[]*closeCounter) {
	t.Helper()
	b := newBody(body)
	req, err := http.NewRequest(http.MethodPost, "https://api.notion.com"+path, nil)
	require.NoError(t, err)
	req.Body = b
	req.ContentLength = int64(len(body))
	rewound := new([]*closeCounter)
	req.GetBody = func() (io.ReadCloser, error) {
		nb := newBody(body)
		*rewound = append(*rewound, nb)
		return nb, nil
	}
	return req, b, rewound
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	return e
}

func TestRoundTripSuccessIsUntouched(t *testing.T) {
	t.Parallel()
	want := &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}"))}
	var sent *http.Request
	tr := &Transport{
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = r
			return want, nil
		}),
		Source: static(testToken),
	}
	req := getPage(t)
	before := req.Header.Clone()
	got, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Same(t, want, got, "a success must be returned as the base returned it")
	assert.Equal(t, "Bearer "+testToken, sent.Header.Get("Authorization"))
	assert.Equal(t, "2025-09-03", sent.Header.Get("Notion-Version"))
	assert.Equal(t, before, req.Header, "the caller's request must not be modified")
	assert.Empty(t, req.Header.Get("Authorization"))
	assert.NotSame(t, req, sent)
}

func TestRoundTripWithoutSourceUsesRequestHeader(t *testing.T) {
	t.Parallel()
	var sent *http.Request
	tr := &Transport{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		resp, _ := reply(r, 200, "{}")
		return resp, nil
	})}
	req := getPage(t)
	req.Header.Set("Authorization", "Bearer "+testToken)
	_, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Same(t, req, sent, "with nothing to change, the request is passed on as is")
}

func TestRoundTripAuthorization(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		source oauth2.TokenSource
		header string // the caller's Authorization
		want   string // what the base is sent
	}{
		{"Source fills it in", static(testToken), "", "Bearer " + testToken},
		{"Source replaces a stale bearer", static(testToken), "Bearer ", "Bearer " + testToken},
		{"Source replaces a bare scheme", static(testToken), "Bearer", "Bearer " + testToken},
		{"Basic is kept for the token endpoint", static(testToken), "Basic Y2xpZW50OnNlY3JldA==", "Basic Y2xpZW50OnNlY3JldA=="},
		{"no Source: the caller's own", nil, "Bearer " + otherToken, "Bearer " + otherToken},
		{"no Source, no header", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got string
			tr := &Transport{
				Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					got = r.Header.Get("Authorization")
					resp, _ := reply(r, 200, "{}")
					return resp, nil
				}),
				Source: tc.source,
			}
			req := getPage(t)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			_, err := tr.RoundTrip(req)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.header, req.Header.Get("Authorization"), "the caller's header is untouched")
		})
	}
}

func TestRoundTripErrorClosesBodies(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onCall = func(*http.Request) (int, string) {
		return 404, `{"object":"error","status":404,"code":"object_not_found","message":"Could not find page."}`
	}
	tr := &Transport{Base: api, Source: static(testToken)}
	req, body, _ := postWithBody(t, "/v1/pages/"+pageID, `{"archived":true}`)
	resp, err := tr.RoundTrip(req)
	assert.Nil(t, resp)
	e := asError(t, err)
	assert.Equal(t, PermissionLost, e.Kind)
	assert.Equal(t, pageID, e.ObjectID)
	assert.Equal(t, 1, e.Attempts)
	assert.Equal(t, int32(1), body.closes.Load(), "request body closed once")
	require.Len(t, api.bodies, 1)
	assert.Equal(t, int32(1), api.bodies[0].closes.Load(), "error response body closed once")
}

func TestSpuriousUnauthorizedIsResentOnce(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	var n atomic.Int32
	api.onCall = func(*http.Request) (int, string) {
		if n.Add(1) == 1 {
			return 401, unauthorizedBody
		}
		return 200, `{"object":"page"}`
	}
	var revoked atomic.Int32
	tr := &Transport{Base: api, Source: static(testToken),
		OnAuthRevoked: func(context.Context, *Error) { revoked.Add(1) }}
	req, body, rewound := postWithBody(t, "/v1/search", `{"query":"x"}`)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	resp.Body.Close()
	calls, probes := api.counts()
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, probes)
	assert.Zero(t, revoked.Load())
	assert.Equal(t, int32(1), body.closes.Load())
	require.Len(t, *rewound, 1, "the resend uses a rewound body")
	assert.Equal(t, int32(1), (*rewound)[0].closes.Load())
}

func TestSpuriousUnauthorizedTwiceIsNotRevoked(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onCall = func(*http.Request) (int, string) { return 401, unauthorizedBody }
	var revoked atomic.Int32
	tr := &Transport{Base: api, Source: static(testToken),
		OnAuthRevoked: func(context.Context, *Error) { revoked.Add(1) }}
	_, err := tr.RoundTrip(getPage(t))
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrAuthRevoked)
	e := asError(t, err)
	assert.Equal(t, Unavailable, e.Kind)
	assert.Equal(t, ReasonTokenValid, e.Reason)
	assert.Equal(t, 2, e.Attempts)
	assert.Zero(t, revoked.Load())
	// The token was never latched: the next call is sent (and resent).
	_, _ = tr.RoundTrip(getPage(t))
	calls, probes := api.counts()
	assert.Equal(t, 4, calls)
	assert.Equal(t, 2, probes)
}

func TestSpuriousUnauthorizedNotResent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy RetryPolicy
		req    func(t *testing.T) *http.Request
	}{
		{"MaxAttempts 1 sends once", RetryPolicy{MaxAttempts: 1}, getPage},
		{"body cannot be rewound", RetryPolicy{}, func(t *testing.T) *http.Request {
			req, _, _ := postWithBody(t, "/v1/pages", `{}`)
			req.GetBody = nil
			return req
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI()
			api.onCall = func(*http.Request) (int, string) { return 401, unauthorizedBody }
			tr := &Transport{Base: api, Source: static(testToken), Retry: tc.policy}
			_, err := tr.RoundTrip(tc.req(t))
			e := asError(t, err)
			assert.Equal(t, Unavailable, e.Kind)
			assert.Equal(t, ReasonTokenValid, e.Reason)
			calls, probes := api.counts()
			assert.Equal(t, 1, calls)
			assert.Equal(t, 1, probes)
		})
	}
}

func TestConfirmedRevocationLatches(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.revoke(testToken)
	var got []*Error
	src := &swapSource{}
	src.set(testToken)
	tr := &Transport{Base: api, Source: src,
		OnAuthRevoked: func(_ context.Context, e *Error) { got = append(got, e) }}

	_, err := tr.RoundTrip(getPage(t))
	require.ErrorIs(t, err, ErrAuthRevoked)
	e := asError(t, err)
	assert.Equal(t, 401, e.StatusCode)
	assert.Equal(t, CodeUnauthorized, e.Code)
	assert.Equal(t, 1, e.Attempts)
	require.Len(t, got, 1)
	assert.Equal(t, AuthRevoked, got[0].Kind)
	assert.Equal(t, "/v1/pages/"+pageID, got[0].Path)

	// The next call fails at once and sends nothing, body closed.
	req, body, _ := postWithBody(t, "/v1/pages", `{}`)
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, ErrAuthRevoked)
	e = asError(t, err)
	assert.Zero(t, e.Attempts)
	assert.Equal(t, "/v1/pages", e.Path)
	assert.Equal(t, int32(1), body.closes.Load())
	calls, probes := api.counts()
	assert.Equal(t, 1, calls)
	assert.Equal(t, 1, probes)
	assert.Len(t, got, 1, "callback once per token")

	// Another token from the same Source (a reconnect) is not affected.
	src.set(otherToken)
	_, err = tr.RoundTrip(getPage(t))
	require.NoError(t, err)
	src.set(testToken)
	_, err = tr.RoundTrip(getPage(t))
	require.ErrorIs(t, err, ErrAuthRevoked)
	calls, probes = api.counts()
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, probes)
}

// swapSource is a TokenSource whose token a test can change.
type swapSource struct{ tok atomic.Pointer[oauth2.Token] }

func (s *swapSource) set(tok string)                { s.tok.Store(&oauth2.Token{AccessToken: tok}) }
func (s *swapSource) Token() (*oauth2.Token, error) { return s.tok.Load(), nil }

func TestLatchUsesRequestHeaderWithoutSource(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.revoke(testToken)
	tr := &Transport{Base: api}
	for i := 0; i < 3; i++ {
		req := getPage(t)
		req.Header.Set("Authorization", "Bearer "+testToken)
		_, err := tr.RoundTrip(req)
		require.ErrorIs(t, err, ErrAuthRevoked)
	}
	req := getPage(t)
	req.Header.Set("Authorization", "Bearer "+otherToken)
	_, err := tr.RoundTrip(req)
	require.NoError(t, err)
	calls, probes := api.counts()
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, probes)
}

func TestUnconfirmedUnauthorized(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		probe      func(r *http.Request) (*http.Response, error)
		kind       Kind
		retryAfter time.Duration
	}{
		{"probe network error", func(*http.Request) (*http.Response, error) {
			return nil, errors.New("connection reset by peer")
		}, Unavailable, 0},
		{"probe 503", func(r *http.Request) (*http.Response, error) {
			resp, _ := reply(r, 503, `{"object":"error","status":503,"code":"service_unavailable","message":"x"}`)
			return resp, nil
		}, Unavailable, 0},
		{"probe 429", func(r *http.Request) (*http.Response, error) {
			resp, _ := reply(r, 429, `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`)
			resp.Header.Set("Retry-After", "7")
			return resp, nil
		}, Throttled, 7 * time.Second},
		{"probe edge HTML 401", func(r *http.Request) (*http.Response, error) {
			resp, _ := reply(r, 401, `<html><head><title>Access denied</title></head></html>`)
			resp.Header.Set("Content-Type", "text/html")
			resp.Header.Set("Cf-Ray", "8a1b2c3d4e5f-SJC")
			return resp, nil
		}, Unavailable, 0},
		{"probe 401 with another code", func(r *http.Request) (*http.Response, error) {
			resp, _ := reply(r, 401, `{"object":"error","status":401,"code":"something_new","message":"?"}`)
			return resp, nil
		}, Unavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI()
			api.revoke(testToken)
			api.onProbe = tc.probe
			var revoked atomic.Int32
			clk := notiontest.NewClock(time.Time{})
			tr := &Transport{Base: api, Source: static(testToken), Clock: clk,
				OnAuthRevoked: func(context.Context, *Error) { revoked.Add(1) }}
			_, err := tr.RoundTrip(getPage(t))
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrAuthRevoked)
			e := asError(t, err)
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, ReasonUnconfirmed, e.Reason)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			assert.Contains(t, e.Message, "the token probe failed", "the probe's failure is told")
			assert.Equal(t, 1, strings.Count(err.Error(), "notionauth:"), "one prefix: %s", err)
			assert.Zero(t, revoked.Load())
			// Nothing was latched: the next call is sent again (once a
			// 429 to the probe has paused the token for its Retry-After).
			clk.Advance(tc.retryAfter)
			_, _ = tr.RoundTrip(getPage(t))
			calls, _ := api.counts()
			assert.Equal(t, 2, calls)
		})
	}
}

func TestUnauthorizedWithoutTokenIsNotProbed(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	tr := &Transport{Base: api}
	_, err := tr.RoundTrip(getPage(t))
	e := asError(t, err)
	assert.Equal(t, InvalidRequest, e.Kind)
	assert.Equal(t, ReasonNoToken, e.Reason)
	_, probes := api.counts()
	assert.Zero(t, probes)
}

func TestOAuthEndpointIsNotProbed(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onCall = func(*http.Request) (int, string) {
		return 401, `{"error":"invalid_client","error_description":"bad client"}`
	}
	tr := &Transport{Base: api, Source: static(testToken)}
	req, _, _ := postWithBody(t, "/v1/oauth/token", `{}`)
	req.Header.Set("Authorization", "Basic Y2xpZW50OnNlY3JldA==")
	_, err := tr.RoundTrip(req)
	e := asError(t, err)
	assert.Equal(t, InvalidRequest, e.Kind)
	assert.Contains(t, e.Message, "client credentials")
	_, probes := api.counts()
	assert.Zero(t, probes)
}

func TestProbeRequestShape(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.revoke(testToken)
	var probe *http.Request
	api.onProbe = func(r *http.Request) (*http.Response, error) {
		probe = r
		resp, _ := reply(r, 401, unauthorizedBody)
		return resp, nil
	}
	tr := &Transport{Base: api, Source: static(testToken)}
	req, err := http.NewRequest(http.MethodGet, "http://proxy.internal/notion/v1/blocks/"+pageID+"/children?page_size=10", nil)
	require.NoError(t, err)
	req.Header.Set("Notion-Version", "2026-03-11")
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, ErrAuthRevoked)
	require.NotNil(t, probe)
	assert.Equal(t, http.MethodGet, probe.Method)
	assert.Equal(t, "http://proxy.internal/notion/v1/users/me", probe.URL.String())
	assert.Equal(t, "2026-03-11", probe.Header.Get("Notion-Version"))
	assert.Equal(t, "Bearer "+testToken, probe.Header.Get("Authorization"))
}

func TestConcurrentRevocationProbesOnce(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.revoke(testToken)
	// Hold the probe until every goroutine has met its 401, so they all
	// wait on the same probe.
	const n = 50
	var met sync.WaitGroup
	met.Add(n)
	api.onCall = func(*http.Request) (int, string) {
		met.Done()
		return 401, unauthorizedBody
	}
	api.onProbe = func(r *http.Request) (*http.Response, error) {
		met.Wait()
		resp, _ := reply(r, 401, unauthorizedBody)
		return resp, nil
	}
	var callbacks, inCallback atomic.Int32
	tr := &Transport{Base: api, Source: static(testToken),
		OnAuthRevoked: func(context.Context, *Error) {
			assert.Equal(t, int32(1), inCallback.Add(1), "never concurrently")
			callbacks.Add(1)
			time.Sleep(time.Millisecond)
			inCallback.Add(-1)
		}}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tr.RoundTrip(getPage(t))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrAuthRevoked)
	}
	calls, probes := api.counts()
	assert.Equal(t, n, calls)
	assert.Equal(t, 1, probes)
	assert.Equal(t, int32(1), callbacks.Load())

	_, err := tr.RoundTrip(getPage(t))
	require.ErrorIs(t, err, ErrAuthRevoked)
	calls, probes = api.counts()
	assert.Equal(t, n, calls, "the next call sends nothing")
	assert.Equal(t, 1, probes)
}

func TestCancelWhileWaitingForProbe(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.revoke(testToken)
	release := make(chan struct{})
	api.probeHit = make(chan struct{}, 1)
	api.onProbe = func(r *http.Request) (*http.Response, error) {
		<-release
		resp, _ := reply(r, 401, unauthorizedBody)
		return resp, nil
	}
	var revoked atomic.Int32
	tr := &Transport{Base: api, Source: static(testToken),
		OnAuthRevoked: func(context.Context, *Error) { revoked.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	req := getPage(t).WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	<-api.probeHit
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip did not return after its context was cancelled")
	}
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrAuthRevoked)
	// The probe goes on without the cancelled call and still latches.
	close(release)
	require.Eventually(t, func() bool { return revoked.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	_, err = tr.RoundTrip(getPage(t))
	assert.ErrorIs(t, err, ErrAuthRevoked)
}

func TestTokenSourceErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		source oauth2.TokenSource
		kind   Kind
	}{
		{"refresh rejected", errSource{&oauth2.RetrieveError{ErrorCode: "invalid_grant"}}, AuthRevoked},
		{"other failure", errSource{errors.New("store unreachable")}, Unavailable},
		{"nil token", oauth2.StaticTokenSource(nil), InvalidRequest},
		{"empty token", static(""), InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sent atomic.Int32
			tr := &Transport{Source: tc.source, Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
				sent.Add(1)
				return nil, errors.New("must not be called")
			})}
			req, body, _ := postWithBody(t, "/v1/pages", `{}`)
			resp, err := tr.RoundTrip(req)
			assert.Nil(t, resp)
			e := asError(t, err)
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, "/v1/pages", e.Path)
			assert.Zero(t, sent.Load())
			assert.Equal(t, int32(1), body.closes.Load())
		})
	}
}

type errSource struct{ err error }

func (s errSource) Token() (*oauth2.Token, error) { return nil, s.err }

func TestBadInputIsATypedError(t *testing.T) {
	t.Parallel()
	tr := &Transport{Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("must not be called")
	})}
	resp, err := tr.RoundTrip(nil)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, ErrInvalidRequest)

	resp, err = tr.RoundTrip(&http.Request{Method: "GET"})
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, ErrInvalidRequest)

	for _, p := range []RetryPolicy{{MaxAttempts: -1}, {MaxWait: -time.Second}} {
		bad := &Transport{Retry: p}
		req, body, _ := postWithBody(t, "/v1/pages", `{}`)
		_, err := bad.RoundTrip(req)
		e := asError(t, err)
		assert.Equal(t, InvalidRequest, e.Kind)
		assert.Contains(t, e.Message, "RetryPolicy")
		assert.Equal(t, int32(1), body.closes.Load())
	}
}

func TestNetworkFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	tr := &Transport{Source: static(testToken), Retry: RetryPolicy{MaxAttempts: 1}}
	req, err := http.NewRequest(http.MethodGet, url+"/v1/users/me", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	e := asError(t, err)
	assert.Equal(t, Unavailable, e.Kind)
	assert.Zero(t, e.StatusCode)
	assert.NotNil(t, e.Err)
	assert.Equal(t, Unavailable, KindOf(e.Err), "the cause is a network error")
	assert.NotContains(t, err.Error(), testToken)
}

func TestDeadlineIsTheCause(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	tr := &Transport{Source: static(testToken), Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, errors.New("net/http: request canceled")
	})}
	_, err := tr.RoundTrip(getPage(t).WithContext(ctx))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ErrUnavailable)
}

func TestLatchIsBounded(t *testing.T) {
	t.Parallel()
	var l latch
	assert.True(t, l.add(0, CodeUnauthorized))
	for k := uint64(1); k <= latchSize+10; k++ {
		l.add(k, CodeInvalidGrant)
	}
	assert.Len(t, l.m, latchSize)
	assert.Len(t, l.order, latchSize)
	_, ok := l.get(0)
	assert.False(t, ok, "the oldest entry is forgotten first")
	code, ok := l.get(latchSize + 10)
	assert.True(t, ok)
	assert.Equal(t, CodeInvalidGrant, code)
	assert.False(t, l.add(latchSize+10, CodeUnauthorized), "already there")
	code, _ = l.get(latchSize + 10)
	assert.Equal(t, CodeInvalidGrant, code, "the first code stays")
	assert.Len(t, l.order, latchSize)
}

func TestLatchHoldsNoToken(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.revoke(testToken)
	tr := &Transport{Base: api, Source: static(testToken)}
	_, err := tr.RoundTrip(getPage(t))
	require.ErrorIs(t, err, ErrAuthRevoked)
	assert.Equal(t, []string{CodeUnauthorized}, tr.st.latch.codes, "the latch keeps hashes and known codes only")
}
