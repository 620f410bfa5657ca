package notionauth_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
)

// env is one fake Notion with a token, a shared page tree, and a notionapi
// client going through a Transport.
type env struct {
	srv       *notiontest.Server
	token     string
	tr        *notionauth.Transport
	client    *notionapi.Client
	http      *http.Client // the same Transport for endpoints notionapi lacks
	revoked   atomic.Int32 // OnAuthRevoked calls
	page      string       // a page shared with token
	block     string       // a block in page
	database  string       // a database in page, with a row
	source    string       // a data source in page
	lastError atomic.Pointer[notionauth.Error]
	// clock is the time of the server and the Transport. It moves on by
	// itself whenever they are idle (see notiontest.Clock.AutoAdvance),
	// so waits of seconds take milliseconds, until manual is called.
	clock *notiontest.Clock
	auto  func() // stops the clock moving by itself
}

// manual stops the clock moving by itself: the test moves it.
func (e *env) manual() { e.auto() }

// deadline is a context whose deadline is d from now on the env's clock.
func (e *env) deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), e.clock.Now().Add(d))
	t.Cleanup(cancel)
	return ctx
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{srv: notiontest.New(t)}
	e.token = e.srv.NewToken()
	e.page = e.srv.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
	e.block = e.srv.Put(notiontest.Object{Type: notiontest.Block, Parent: e.page, Title: "first paragraph"})
	e.database = e.srv.Put(notiontest.Object{Type: notiontest.Database, Parent: e.page, Title: "Tasks"})
	e.srv.Put(notiontest.Object{Type: notiontest.Page, Parent: e.database, Title: "Ship it"})
	e.source = e.srv.Put(notiontest.Object{Type: notiontest.DataSource, Parent: e.page, Title: "Tasks source"})
	e.srv.Share(e.page, e.token)
	e.clock = notiontest.NewClock(time.Time{})
	e.srv.SetClock(e.clock)
	e.auto = e.clock.AutoAdvance(0)
	t.Cleanup(e.auto)
	e.tr = &notionauth.Transport{
		Clock:  e.clock,
		Base:   e.srv.Transport(),
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.token}),
		OnAuthRevoked: func(_ context.Context, err *notionauth.Error) {
			e.revoked.Add(1)
			e.lastError.Store(err)
		},
	}
	e.client = notionauth.NewClient(e.tr)
	e.http = &http.Client{Transport: e.tr}
	return e
}

// do sends a raw request through the Transport.
func (e *env) do(t *testing.T, method, path, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(method, "https://api.notion.com"+path, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Notion-Version", notionauth.DefaultNotionVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func notionErr(t *testing.T, err error) *notionauth.Error {
	t.Helper()
	require.Error(t, err)
	var ue *url.Error
	require.ErrorAs(t, err, &ue, "net/http wraps the Transport's error")
	var ne *notionauth.Error
	require.ErrorAs(t, err, &ne)
	return ne
}

func TestEndToEndSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	page, err := e.client.Page.Get(ctx, notionapi.PageID(e.page))
	require.NoError(t, err)
	assert.Equal(t, e.page, string(page.ID))
	_, err = e.client.Database.Query(ctx, notionapi.DatabaseID(e.database), &notionapi.DatabaseQueryRequest{})
	require.NoError(t, err)
	_, err = e.client.Search.Do(ctx, &notionapi.SearchRequest{Query: "Roadmap"})
	require.NoError(t, err)
	me, err := e.client.User.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, e.srv.BotID(e.token), string(me.ID))
	for _, r := range e.srv.Requests() {
		assert.Equal(t, notiontest.TokenHash(e.token), r.TokenHash, "%s %s", r.Method, r.Path)
	}
}

// TestEndToEndKinds reaches every Kind through notionapi calls.
func TestEndToEndKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault notiontest.Fault
		kind  notionauth.Kind
		check func(t *testing.T, ne *notionauth.Error)
	}{
		{"throttled", notiontest.RateLimited(3 * time.Second), notionauth.Throttled, func(t *testing.T, ne *notionauth.Error) {
			assert.Equal(t, 3*time.Second, ne.RetryAfter)
			assert.Equal(t, notionauth.ReasonRequestRateLimit, ne.Reason)
		}},
		{"overloaded", notiontest.Overloaded(2 * time.Second), notionauth.Throttled, func(t *testing.T, ne *notionauth.Error) {
			assert.Equal(t, 529, ne.StatusCode)
			assert.Equal(t, 2*time.Second, ne.RetryAfter)
		}},
		{"blocked 429", notiontest.Blocked(), notionauth.Blocked, func(t *testing.T, ne *notionauth.Error) {
			assert.Equal(t, notionauth.ReasonRequestBlocked, ne.Reason)
		}},
		{"edge 403", notiontest.EdgeHTML(403), notionauth.Blocked, func(t *testing.T, ne *notionauth.Error) {
			assert.Equal(t, notionauth.ReasonEdge, ne.Reason)
			assert.Contains(t, ne.Message, "403 Forbidden")
		}},
		{"edge 401", notiontest.EdgeHTML(401), notionauth.Blocked, nil},
		{"block limit", notiontest.BlockLimit(), notionauth.PermissionLost, func(t *testing.T, ne *notionauth.Error) {
			assert.Equal(t, notionauth.ReasonBlockLimit, ne.Reason)
		}},
		{"validation", notiontest.Fault{Status: 400, Code: "validation_error", Message: "body.parent should be defined"},
			notionauth.InvalidRequest, nil},
		{"conflict", notiontest.Conflict(), notionauth.Conflict, nil},
		{"server error", notiontest.ServerError(500), notionauth.Unavailable, nil},
		{"bad gateway", notiontest.ServerError(502), notionauth.Unavailable, nil},
		{"service unavailable", notiontest.ServerError(503), notionauth.Unavailable, nil},
		{"edge 502", notiontest.EdgeHTML(502), notionauth.Unavailable, func(t *testing.T, ne *notionauth.Error) {
			assert.Equal(t, notionauth.ReasonEdge, ne.Reason)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.tr.Retry.MaxAttempts = 1 // see the classification, not the recovery
			e.tr.Pacing.Off = true     // and let the next call go without waiting out a pause
			tc.fault.Path = "/v1/pages/*"
			e.srv.Inject(tc.fault)
			_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
			ne := notionErr(t, err)
			assert.Equal(t, tc.kind, ne.Kind, "%v", ne)
			assert.Equal(t, tc.kind, notionauth.KindOf(err))
			assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
			assert.Equal(t, http.MethodGet, ne.Method)
			assert.Equal(t, "/v1/pages/"+e.page, ne.Path)
			if tc.check != nil {
				tc.check(t, ne)
			}
			assert.Zero(t, e.revoked.Load())
			// The fault answered once: the page is reachable again.
			_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
			require.NoError(t, err)
		})
	}
}

func TestEndToEndSentinels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault    notiontest.Fault
		sentinel error
	}{
		{notiontest.RateLimited(time.Second), notionauth.ErrThrottled},
		{notiontest.Blocked(), notionauth.ErrBlocked},
		{notiontest.BlockLimit(), notionauth.ErrPermissionLost},
		{notiontest.Conflict(), notionauth.ErrConflict},
		{notiontest.ServerError(504), notionauth.ErrUnavailable},
		{notiontest.Fault{Status: 400, Code: "invalid_json"}, notionauth.ErrInvalidRequest},
	} {
		e := newEnv(t)
		e.tr.Retry.MaxAttempts = 1
		e.srv.Inject(tc.fault)
		_, err := e.client.Block.GetChildren(context.Background(), notionapi.BlockID(e.page), nil)
		assert.ErrorIs(t, err, tc.sentinel)
	}
}

func TestEndToEndPermissionLostObjectID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.srv.Unshare(e.page, e.token)

	_, err := e.client.Page.Get(ctx, notionapi.PageID(e.page))
	assert.Equal(t, e.page, notionErr(t, err).ObjectID, "page")

	_, err = e.client.Block.Get(ctx, notionapi.BlockID(e.block))
	assert.Equal(t, e.block, notionErr(t, err).ObjectID, "block")

	_, err = e.client.Block.GetChildren(ctx, notionapi.BlockID(e.page), nil)
	assert.Equal(t, e.page, notionErr(t, err).ObjectID, "block children")

	_, err = e.client.Database.Get(ctx, notionapi.DatabaseID(e.database))
	assert.Equal(t, e.database, notionErr(t, err).ObjectID, "database")

	_, err = e.client.Database.Query(ctx, notionapi.DatabaseID(e.database), &notionapi.DatabaseQueryRequest{})
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.PermissionLost, ne.Kind)
	assert.Equal(t, e.database, ne.ObjectID, "database query")
	assert.ErrorIs(t, err, notionauth.ErrPermissionLost)

	_, err = e.do(t, http.MethodPost, "/v1/data_sources/"+e.source+"/query", `{}`)
	assert.Equal(t, e.source, notionErr(t, err).ObjectID, "data source query")

	_, err = e.do(t, http.MethodGet, "/v1/comments?block_id="+e.block, "")
	assert.Equal(t, e.block, notionErr(t, err).ObjectID, "comments")

	// Undashed ids in the path come back dashed.
	undashed := e.page[:8] + e.page[9:13] + e.page[14:18] + e.page[19:23] + e.page[24:]
	_, err = e.do(t, http.MethodGet, "/v1/pages/"+undashed, "")
	assert.Equal(t, e.page, notionErr(t, err).ObjectID, "undashed")

	// POST /v1/pages has no id in its path: the missing parent is named in
	// Notion's message.
	_, err = e.client.Page.Create(ctx, &notionapi.PageCreateRequest{
		Parent: notionapi.Parent{Type: notionapi.ParentTypePageID, PageID: notionapi.PageID(e.page)},
		Properties: notionapi.Properties{"title": notionapi.TitleProperty{
			Title: []notionapi.RichText{{Text: &notionapi.Text{Content: "child"}}},
		}},
	})
	ne = notionErr(t, err)
	assert.Equal(t, notionauth.PermissionLost, ne.Kind)
	assert.Equal(t, "/v1/pages", ne.Path)
	assert.Equal(t, e.page, ne.ObjectID, "parent from the message")

	// Deleted is the same verdict.
	e.srv.Share(e.page, e.token)
	e.srv.Delete(e.block)
	_, err = e.client.Block.Get(ctx, notionapi.BlockID(e.block))
	assert.Equal(t, e.block, notionErr(t, err).ObjectID, "deleted block")
	assert.Zero(t, e.revoked.Load(), "permission loss is not token loss")
}

func TestEndToEndSpuriousUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := notiontest.SpuriousUnauthorized()
	f.Path = "/v1/pages/*"
	e.srv.Inject(f)
	page, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err, "probe succeeds, the call is sent again and succeeds")
	assert.Equal(t, e.page, string(page.ID))
	assert.Equal(t, 2, e.srv.Count(http.MethodGet, "/v1/pages/*"))
	assert.Equal(t, 1, e.srv.Count(http.MethodGet, "/v1/users/me"))
	assert.Zero(t, e.revoked.Load())

	// A 401 that persists for one call while the token works.
	f.Times = 2
	e.srv.Inject(f)
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	ne := notionErr(t, err)
	assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Equal(t, notionauth.ReasonTokenValid, ne.Reason)
	assert.Zero(t, e.revoked.Load())
	// Nothing latched: the next call goes through.
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err)
}

func TestEndToEndUnconfirmedUnauthorized(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		probe notiontest.Fault
		kind  notionauth.Kind
	}{
		{"probe throttled", notiontest.RateLimited(5 * time.Second), notionauth.Throttled},
		{"probe 503", notiontest.ServerError(503), notionauth.Unavailable},
		{"probe edge 401", notiontest.EdgeHTML(401), notionauth.Unavailable},
		{"probe reset", notiontest.Fault{Reset: true, Times: 3}, notionauth.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.srv.RevokeToken(e.token)
			tc.probe.Path = "/v1/users/me"
			e.srv.Inject(tc.probe)
			_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
			ne := notionErr(t, err)
			assert.Equal(t, tc.kind, ne.Kind)
			assert.Equal(t, notionauth.ReasonUnconfirmed, ne.Reason)
			assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
			assert.Zero(t, e.revoked.Load(), "doubt never revokes")
			// Once the probe can answer, the loss is confirmed.
			e.srv.ClearFaults()
			_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
			assert.ErrorIs(t, err, notionauth.ErrAuthRevoked)
			assert.Equal(t, int32(1), e.revoked.Load())
		})
	}
}

func TestEndToEndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.RevokeToken(e.token)
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	ne := notionErr(t, err)
	assert.Equal(t, 401, ne.StatusCode)
	assert.Equal(t, notionauth.CodeUnauthorized, ne.Code)
	assert.NotEmpty(t, ne.RequestID)
	assert.Equal(t, int32(1), e.revoked.Load())
	assert.NotContains(t, err.Error(), e.token)

	before := len(e.srv.Requests())
	_, err = e.client.Database.Query(context.Background(), notionapi.DatabaseID(e.database), &notionapi.DatabaseQueryRequest{})
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Len(t, e.srv.Requests(), before, "a latched token sends nothing")
	assert.Equal(t, int32(1), e.revoked.Load())
}

// TestEndToEndConcurrentRevocation: 50 goroutines meet one revoked token.
func TestEndToEndConcurrentRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.RevokeToken(e.token)
	// Slow the probe down so that the 401s of all goroutines meet it in
	// flight; the result must not depend on it.
	slow := notiontest.Latency(50 * time.Millisecond)
	slow.Path = "/v1/users/me"
	e.srv.Inject(slow)

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		assert.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	}
	assert.Equal(t, 1, e.srv.Count(http.MethodGet, "/v1/users/me"), "one probe")
	assert.Equal(t, int32(1), e.revoked.Load(), "one callback")
	assert.LessOrEqual(t, e.srv.Count(http.MethodGet, "/v1/pages/*"), n)

	before := len(e.srv.Requests())
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	assert.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Len(t, e.srv.Requests(), before, "the next call sends no request")
}

func TestEndToEndReconnectWithNewToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fresh := e.srv.NewToken()
	e.srv.Share(e.page, fresh)
	var current atomic.Value
	current.Store(e.token)
	e.tr.Source = sourceFunc(func() (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: current.Load().(string)}, nil
	})
	e.srv.RevokeToken(e.token)
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)

	current.Store(fresh) // the app stored a new grant
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err)
}

type sourceFunc func() (*oauth2.Token, error)

func (f sourceFunc) Token() (*oauth2.Token, error) { return f() }

func TestEndToEndTokenEndpoint(t *testing.T) {
	t.Parallel()
	for _, notionShape := range []bool{false, true} {
		e := newEnv(t)
		e.srv.SetNotionErrorShape(notionShape)
		e.srv.AddOAuthClient("client-id", "client-secret", "https://app.example/callback")
		code := e.srv.NewAuthCode("client-id")

		good := notionauth.NewClient(&notionauth.Transport{Base: e.srv.Transport()},
			notionapi.WithOAuthAppCredentials("client-id", "client-secret"))
		tok, err := good.Authentication.CreateToken(context.Background(), &notionapi.TokenCreateRequest{
			Code: code, GrantType: "authorization_code", RedirectUri: "https://app.example/callback",
		})
		require.NoError(t, err)
		assert.NotEmpty(t, tok.AccessToken)

		// The code is used: invalid_grant, which is the grant being gone.
		_, err = good.Authentication.CreateToken(context.Background(), &notionapi.TokenCreateRequest{
			Code: code, GrantType: "authorization_code", RedirectUri: "https://app.example/callback",
		})
		assert.ErrorIs(t, err, notionauth.ErrAuthRevoked, "shape notion=%v", notionShape)
		assert.Zero(t, e.srv.Count(http.MethodGet, "/v1/users/me"), "the token endpoint is never probed")

		bad := notionauth.NewClient(&notionauth.Transport{Base: e.srv.Transport()},
			notionapi.WithOAuthAppCredentials("client-id", "wrong-secret"))
		_, err = bad.Authentication.CreateToken(context.Background(), &notionapi.TokenCreateRequest{
			Code: e.srv.NewAuthCode("client-id"), GrantType: "authorization_code", RedirectUri: "https://app.example/callback",
		})
		ne := notionErr(t, err)
		assert.Equal(t, notionauth.InvalidRequest, ne.Kind)
		assert.Contains(t, ne.Message, "client credentials")
		assert.NotContains(t, err.Error(), "wrong-secret")
	}
}

func TestEndToEndConnectionReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := notiontest.ConnectionReset()
	f.Times = 5 // net/http may silently resend an idempotent request once
	e.srv.Inject(f)
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.Unavailable, ne.Kind)
	assert.Zero(t, ne.StatusCode)
	assert.NotNil(t, ne.Err)
}

func TestEndToEndLatencyAndDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.Inject(notiontest.Latency(5 * time.Second))
	_, err := e.client.Page.Get(e.deadline(t, 50*time.Millisecond), notionapi.PageID(e.page))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, notionauth.Unavailable, notionErr(t, err).Kind)
}

// TestEndToEndNoLeaks: error paths leave no goroutines behind and reuse
// their connections.
func TestEndToEndNoLeaks(t *testing.T) {
	e := newEnv(t)
	e.tr.Retry.MaxAttempts = 1
	e.tr.Pacing.Off = true
	// Warm up: the keep-alive connection's goroutines are not a leak.
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	faults := []notiontest.Fault{
		notiontest.RateLimited(time.Second), notiontest.Blocked(), notiontest.Conflict(),
		notiontest.ServerError(502), notiontest.EdgeHTML(503), notiontest.EdgeHTML(403),
		{Status: 404, Code: "object_not_found"}, notiontest.SpuriousUnauthorized(),
	}
	const rounds = 10
	for range rounds {
		for _, f := range faults {
			e.srv.Inject(f)
			_, _ = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
		}
	}
	// Error bodies are read and closed, so one connection serves them all
	// (a second may open while one is being returned to the pool).
	assert.LessOrEqual(t, e.srv.Connections(), 2, "connections opened for %d failed calls", rounds*len(faults))
	e.srv.RevokeToken(e.token)
	for range rounds {
		_, _ = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	}
	// Goroutines settle back (the probe's singleflight goroutine ends with it).
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 },
		10*time.Second, 10*time.Millisecond, "goroutines: before %d, now %d", before, runtime.NumGoroutine())
}

func TestEndToEndCallerRequestUnchanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.RevokeToken(e.token)
	req, err := http.NewRequest(http.MethodGet, "https://api.notion.com/v1/pages/"+e.page, nil)
	require.NoError(t, err)
	req.Header.Set("Notion-Version", notionauth.DefaultNotionVersion)
	snapshot := req.Header.Clone()
	u := *req.URL
	_, err = e.http.Do(req)
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Equal(t, snapshot, req.Header)
	assert.Equal(t, u, *req.URL)
	assert.False(t, errors.Is(err, notionauth.ErrPermissionLost))
}
