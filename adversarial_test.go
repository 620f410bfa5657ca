package notionauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
	"github.com/notionauth/notionauth/store/filestore"
)

// What an adversarial run found: a gateway's 401 taken for Notion's, a
// pause that could not be lifted, secrets echoed back by a proxy.

// TestGatewayUnauthorizedIsNeverRevoked: a 401 whose JSON is not Notion's
// (no "object":"error", no request id) comes from a gateway or proxy of
// the app's: the Manager neither refreshes nor marks the grant revoked,
// and the Transport never latches the token, whatever the probe meets.
func TestGatewayUnauthorizedIsNeverRevoked(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"error":"unauthorized"}`,
		`{"code":"unauthorized"}`,
		`{"status":401,"code":"unauthorized","message":"API token is invalid."}`,
		`{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}`,
	} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			e := newMgrEnv(t, false)
			tok := e.connectKey(t, mgrKey)
			refreshes := e.srv.RefreshCount()
			e.srv.Inject(notiontest.Fault{Status: 401, Body: body, Times: -1, Path: "/v1/users/*",
				Header: http.Header{"Content-Type": {"application/json"}}})
			for range 3 {
				_, err := e.me(mgrKey)
				require.Error(t, err)
				assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
			}
			assert.Equal(t, refreshes, e.srv.RefreshCount(), "no rotation burnt")
			assert.Empty(t, e.revoked.get())
			g := e.grant(t, mgrKey)
			assert.True(t, g.Revoked.IsZero(), "the grant is untouched")
			assert.Equal(t, tok.AccessToken, g.Token.AccessToken)
		})
	}
	t.Run("Notion's 401, a gateway's probe", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.RevokeToken(e.token)
		e.srv.Inject(notiontest.Fault{Status: 401, Body: `{"error":"unauthorized"}`, Times: -1, Path: "/v1/users/me",
			Header: http.Header{"Content-Type": {"application/json"}}})
		_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
		ne := notionErr(t, err)
		assert.Equal(t, notionauth.ReasonUnconfirmed, ne.Reason)
		assert.Zero(t, e.revoked.Load(), "doubt never revokes")
	})
}

// TestRefreshThrottledKeepsItsKind: a 429 from the token endpoint during
// a refresh reaches the caller as Throttled, with its Retry-After.
func TestRefreshThrottledKeepsItsKind(t *testing.T) {
	t.Parallel()
	e := newMgrEnv(t, false)
	tok := e.connectKey(t, mgrKey)
	e.srv.RevokeToken(tok.AccessToken)
	// Beyond MaxWait: not waited out in the refresh.
	f := notiontest.RateLimited(2 * time.Minute)
	f.Path = "/v1/oauth/token"
	e.srv.Inject(f)
	_, err := e.me(mgrKey)
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.Throttled, ne.Kind, "%v", err)
	assert.Equal(t, 2*time.Minute, ne.RetryAfter)
	assert.NotErrorIs(t, err, notionauth.ErrUnavailable)
	assert.Empty(t, e.revoked.get())
}

// TestPauseIsBoundedAndCanBeCleared: an absurd Retry-After pauses the
// token for Pacing.MaxPause at most, and the app can end a pause.
func TestPauseIsBoundedAndCanBeCleared(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.manual()
	f := notiontest.RateLimited(time.Second)
	f.Header = http.Header{"Retry-After": {"999999"}}
	delete(f.AdditionalData, "retry_after")
	e.srv.Inject(f)
	_, err := e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	ne := notionErr(t, err)
	assert.Equal(t, 24*time.Hour, ne.RetryAfter, "the call tells what it was told (up to a day)")
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	ne = notionErr(t, err)
	assert.Equal(t, notionauth.ReasonPaced, ne.Reason)
	assert.LessOrEqual(t, ne.RetryAfter, notionauth.DefaultMaxPause, "the pause is bounded")
	assert.Len(t, e.srv.Requests(), 1)

	e.clock.Advance(notionauth.DefaultMaxPause)
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err, "the pause ended after an hour")

	e.srv.Inject(f)
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.ErrorIs(t, err, notionauth.ErrThrottled)
	e.tr.ClearPause(e.token)
	_, err = e.client.Page.Get(context.Background(), notionapi.PageID(e.page))
	require.NoError(t, err, "ClearPause ends it at once")
	e.tr.ClearPause("ntn_never_seen_token_000000") // a token without a pace: nothing to do
}

// echoing answers every request with a Notion-shaped error whose text
// fields echo the request's bearer token.
func echoing(status int, shape func(tok string) string) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		return &http.Response{StatusCode: status, Request: r,
			Header: http.Header{"Content-Type": {"application/json"}, "X-Notion-Request-Id": {tok}},
			Body:   io.NopCloser(strings.NewReader(shape(tok)))}, nil
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestEchoedTokenIsScrubbed: a proxy that echoes the request's token,
// unprefixed, into the request id, the code, the reason and the message,
// raw, URL-escaped or in base64: none of it reaches the Error, its
// prints, the events or the log.
func TestEchoedTokenIsScrubbed(t *testing.T) {
	t.Parallel()
	const token = "UNPREFIXEDtoken8c1d2e3f4a5b6c7d8e9f"
	shape := func(tok string) string {
		return `{"object":"error","status":429,"code":"` + tok + `","message":"token ` + strings.Join([]string{tok,
			url.QueryEscape(tok), b64(tok)}, " ") + `","request_id":"` + tok + `","additional_data":{"rate_limit_reason":"` +
			tok + `","retry_after":"0.001"}}`
	}
	leaks := newLeakLog()
	leaks.secret(token)
	tr := &notionauth.Transport{Base: echoing(429, shape), Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
		Retry: notionauth.RetryPolicy{MaxAttempts: 2}}
	tr.OnEvent = func(ev notionauth.Event) { leaks.print(ev) }
	tr.Logger = slogTo(leaks)
	_, err := (&http.Client{Transport: tr}).Get("https://api.notion.com/v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5")
	ne := notionErr(t, err)
	assert.Equal(t, notionauth.Throttled, ne.Kind)
	assert.Empty(t, ne.RequestID, "not a request id: dropped")
	leaks.err(err)
	leaks.print(ne)
	leaks.print(*ne)
	leaks.print(tr)
	leaks.check(t)
}

// TestRequestIDMustLookLikeOne: a request id is a UUID, or it is not kept.
func TestRequestIDMustLookLikeOne(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, header, want string }{
		{`"request_id":"2b0c5d4e-7f6a-4b3c-9d8e-1f0a2b3c4d5e"`, "", "2b0c5d4e-7f6a-4b3c-9d8e-1f0a2b3c4d5e"},
		{`"request_id":"2B0C5D4E7F6A4B3C9D8E1F0A2B3C4D5E"`, "", "2b0c5d4e-7f6a-4b3c-9d8e-1f0a2b3c4d5e"},
		{`"request_id":"nrt_secretrefresh1234567890"`, "", ""},
		{`"request_id":"Basic cGxhbnQ6c2VjcmV0"`, "", ""},
		{`"request_id":"x"`, "not-a-uuid-either", ""},
		{`"request_id":""`, "2b0c5d4e-7f6a-4b3c-9d8e-1f0a2b3c4d5e", "2b0c5d4e-7f6a-4b3c-9d8e-1f0a2b3c4d5e"},
	} {
		h := http.Header{"Content-Type": {"application/json"}}
		if tc.header != "" {
			h.Set("X-Notion-Request-Id", tc.header)
		}
		resp := &http.Response{StatusCode: 404, Header: h,
			Body: io.NopCloser(strings.NewReader(`{"object":"error","status":404,"code":"object_not_found","message":"m",` + tc.body + `}`))}
		var ne *notionauth.Error
		require.ErrorAs(t, notionauth.CheckResponse(resp), &ne)
		assert.Equal(t, tc.want, ne.RequestID, tc.body)
		assert.NotContains(t, fmt.Sprintf("%#v", ne), "secretrefresh")
	}
}

// TestTransportPrintsNoToken: a Transport whose Source holds the token in
// the clear prints none of it, in any verb.
func TestTransportPrintsNoToken(t *testing.T) {
	t.Parallel()
	const token = "STATICtoken0a1b2c3d4e5f6a7b8c9d0e1f"
	tr := &notionauth.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, RefreshToken: token})}
	_, _ = tr.RoundTrip(&http.Request{}) // used: its state holds the token too
	leaks := newLeakLog()
	leaks.secret(token)
	leaks.print(tr)
	leaks.add(fmt.Sprintf("%s %q %v %+v %#v %x %d", tr, tr, tr, tr, tr, tr, tr))
	leaks.check(t)
	assert.Contains(t, tr.String(), "oauth2.staticTokenSource", "it names the Source's type")
}

// TestTokenEndpointRedirectIsNotFollowed: a token endpoint that answers a
// redirect, with the request's code echoed URL-escaped in the Location,
// is not followed (the code would go to whatever the Location says), and
// the error says nothing of it.
func TestTokenEndpointRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	const code = "REDIRECTcode/with+chars=0123456789"
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", other.URL+"/steal?code="+url.QueryEscape(code)+"&p="+url.PathEscape(code))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	cfg := &notionauth.Config{ClientID: "cid", ClientSecret: "secret_cfg_0000000000", BaseURL: srv.URL}
	_, err := cfg.Exchange(context.Background(), code)
	var ne *notionauth.Error
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, http.StatusTemporaryRedirect, ne.StatusCode)
	assert.Zero(t, elsewhere.Load(), "the redirect was not followed")
	leaks := newLeakLog()
	leaks.secret(code)
	leaks.err(err)
	leaks.check(t)

	// The API's redirects neither: the Transport stops at them.
	tr := &notionauth.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ntn_redirected_0000000000"}),
		Retry: notionauth.RetryPolicy{MaxAttempts: 1}}
	_, err = (&http.Client{Transport: tr}).Get(srv.URL + "/v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5")
	ne = notionErr(t, err)
	assert.Equal(t, notionauth.Unavailable, ne.Kind)
	assert.Equal(t, notionauth.ReasonEdge, ne.Reason)
	assert.Zero(t, elsewhere.Load())
}

// TestTokenEndpointErrorBodyClosedOnce: the body of an error from a token
// endpoint is closed exactly once.
func TestTokenEndpointErrorBodyClosedOnce(t *testing.T) {
	t.Parallel()
	var closes atomic.Int32
	cfg := &notionauth.Config{ClientID: "cid", ClientSecret: "secret_cfg_0000000000", BaseURL: "https://api.notion.com",
		HTTPClient: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 400, Request: r, Header: http.Header{"Content-Type": {"application/json"}},
				Body: &countingBody{Reader: strings.NewReader(`{"error":"invalid_grant"}`), closes: &closes}}, nil
		})}}
	_, err := cfg.Refresh(context.Background(), "nrt_refresh_000000000000")
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.EqualValues(t, 1, closes.Load())
}

type countingBody struct {
	io.Reader
	closes *atomic.Int32
}

func (b *countingBody) Close() error { b.closes.Add(1); return nil }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestWorkspaceLimitPausesEveryGrantOfTheWorkspace: a 429 for the
// workspace's budget met by one grant pauses the other grants of that
// workspace; a 429 for one connection's budget pauses that grant only.
func TestWorkspaceLimitPausesEveryGrantOfTheWorkspace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		limit  notiontest.RateLimit
		paused bool
	}{
		{"workspace limit", notiontest.RateLimit{WorkspaceBudget: 2, Window: 30 * time.Second}, true},
		{"connection limit", notiontest.RateLimit{Budget: 2, Window: 30 * time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := notiontest.New(t)
			clock := notiontest.NewClock(time.Time{})
			srv.SetClock(clock)
			srv.AddOAuthClient(oauthClientID, oauthSecret, oauthRedirect)
			cfg := &notionauth.Config{ClientID: oauthClientID, ClientSecret: oauthSecret, RedirectURL: oauthRedirect,
				BaseURL: srv.URL}
			m := &notionauth.Manager{Config: cfg, Base: srv.Transport(), Clock: clock,
				Retry: notionauth.RetryPolicy{MaxAttempts: 1}}
			ws, other := srv.NewWorkspace("acme"), srv.NewWorkspace("other")
			ctx := context.Background()
			for key, in := range map[string]string{"a": ws, "b": ws, "c": other} {
				tok, err := cfg.Exchange(ctx, srv.NewAuthCodeIn(oauthClientID, in))
				require.NoError(t, err)
				require.Equal(t, in, tok.WorkspaceID)
				require.NoError(t, m.Connect(ctx, key, tok))
			}
			srv.SetRateLimit(tc.limit)
			me := func(key string) error {
				_, err := m.Client(key).User.Me(ctx)
				return err
			}
			require.NoError(t, me("a"))
			require.NoError(t, me("a"))
			require.ErrorIs(t, me("a"), notionauth.ErrThrottled, "a meets the limit")
			sent := len(srv.Requests())

			done := make(chan error, 1)
			go func() { done <- me("b") }()
			if !tc.paused {
				require.NoError(t, <-done, "another connection of the workspace is not paused")
				assert.Len(t, srv.Requests(), sent+1)
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, clock.WaitPending(wctx, 1), "b waits for the workspace's pause")
			assert.Len(t, srv.Requests(), sent, "b sent nothing while the workspace was paused")
			require.NoError(t, me("c"), "another workspace is not paused")
			sent++
			_, ok := clock.AdvanceToNext()
			require.True(t, ok)
			require.NoError(t, <-done)
			reqs := srv.Requests()
			require.Len(t, reqs, sent+1)
			last := reqs[len(reqs)-1]
			assert.Equal(t, ws, last.Workspace)
			assert.GreaterOrEqual(t, last.Time.Sub(reqs[2].Time), 29*time.Second, "b went once the pause was over")
		})
	}
}

// TestSecretsByValue: every type that holds a secret prints none of it
// when the app holds it by value in a struct of its own, in every verb,
// log/slog's handlers and JSON. The types: Token, Config (its client
// secret and StateKey), Grant (its Token), SecretKey, the stores holding
// grants (MemoryStore, filestore.Store with its EncryptionKey) and
// Manager (its Config and Store, and its own copy of the Config).
//
// Not Transport: its Source is the app's oauth2.TokenSource, and
// oauth2.StaticTokenSource holds an *oauth2.Token that fmt dereferences
// and prints field by field under %s, %q, %x and %d when it reaches it by
// reflection, as it does in a Transport printed by value. Held by
// pointer, as a Transport is used (RoundTrip has a pointer receiver), it
// prints only its own String.
func TestSecretsByValue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const access, refresh, secret = "BYVALUEaccess0123456789abcdef", "BYVALUErefresh0123456789abcd", "BYVALUEclientsecret012345678"
	stateKey := notionauth.SecretKey("BYVALUEstatekey-0123456789abcdef")
	storeKey := notionauth.SecretKey("BYVALUEstorekey-0123456789abcdef")
	tok := notionauth.Token{AccessToken: access, RefreshToken: refresh, WorkspaceID: "ws"}
	type app struct {
		Config    notionauth.Config
		Token     notionauth.Token
		Grant     notionauth.Grant
		Key       notionauth.SecretKey
		Keys      []notionauth.SecretKey
		Store     *notionauth.MemoryStore
		Memory    notionauth.MemoryStore // used as &a.Memory
		File      filestore.Store        // used as &a.File
		Manager   notionauth.Manager     // used as &a.Manager
		Transport *notionauth.Transport
	}
	a := &app{
		Config:    notionauth.Config{ClientID: "cid", ClientSecret: secret, StateKey: stateKey},
		Token:     tok,
		Grant:     notionauth.Grant{Key: "w", Token: &tok},
		Key:       stateKey,
		Keys:      []notionauth.SecretKey{stateKey},
		Store:     &notionauth.MemoryStore{},
		File:      filestore.Store{Path: filepath.Join(t.TempDir(), "grants"), EncryptionKey: storeKey},
		Transport: &notionauth.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: access, RefreshToken: refresh})},
	}
	a.Manager.Config, a.Manager.Store = &a.Config, &a.Memory
	// Every store holds the grant, and the Manager has used its Store.
	for _, s := range []notionauth.Store{a.Store, &a.Memory, &a.File} {
		_, err := s.Update(ctx, "w", func(*notionauth.Grant) (*notionauth.Grant, error) {
			return &notionauth.Grant{Token: &tok}, nil
		})
		require.NoError(t, err)
	}
	_, err := a.Manager.Grant(ctx, "w")
	require.NoError(t, err)

	leaks := newLeakLog()
	leaks.secret(access, refresh, secret, string(stateKey), string(storeKey))
	// byValue is a copy of the app's struct, as fmt.Println(app) would
	// make one. It is made by reflection: go vet rightly objects to
	// copying the locks in it, but printing such a copy is what is tested.
	byValue := reflect.ValueOf(a).Elem().Interface()
	for _, v := range []any{byValue, a, a.File.EncryptionKey, &a.File, &a.Manager, a.Transport} {
		leaks.print(v)
		leaks.add(fmt.Sprintf("%v %+v %#v %s %q %x %X %d", v, v, v, v, v, v, v, v))
	}
	leaks.check(t)
}

// failingStore fails every call with err once armed.
type failingStore struct {
	notionauth.Store
	err   atomic.Pointer[error]
	calls atomic.Int32
}

func (s *failingStore) fail(err error) { s.err.Store(&err) }

func (s *failingStore) failing() error {
	if p := s.err.Load(); p != nil {
		s.calls.Add(1)
		return *p
	}
	return nil
}

func (s *failingStore) Get(ctx context.Context, key string) (*notionauth.Grant, error) {
	if err := s.failing(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, key)
}

func (s *failingStore) Update(ctx context.Context, key string, fn func(*notionauth.Grant) (*notionauth.Grant, error)) (*notionauth.Grant, error) {
	if err := s.failing(); err != nil {
		return nil, err
	}
	return s.Store.Update(ctx, key, fn)
}

// TestManagerStoreFailures: a Store that fails never makes a grant look
// revoked or absent: the Manager's calls fail as Unavailable (a disk or
// server that fails: retry later) or InvalidRequest (a wrong key: fix the
// setup), never AuthRevoked, and the grant is intact once the Store is.
func TestManagerStoreFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		kind notionauth.Kind
	}{
		{"disk", &notionauth.StoreError{Op: "get", Key: mgrKey, Err: fmt.Errorf("write: %w", errNoSpace)}, notionauth.Unavailable},
		{"wrong key", &notionauth.StoreError{Op: "get", Key: mgrKey, Err: notionauth.ErrWrongKey}, notionauth.InvalidRequest},
		{"unknown", errNoSpace, notionauth.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newMgrEnv(t, false)
			store := &failingStore{Store: &notionauth.MemoryStore{}}
			m := &notionauth.Manager{Config: e.cfg, Store: store, Base: e.srv.Transport(), CacheTTL: time.Nanosecond,
				OnAuthRevoked: e.revoked.record}
			tok := e.connectKey(t, mgrKey)
			require.NoError(t, m.Connect(context.Background(), mgrKey, tok))
			_, err := m.Client(mgrKey).User.Me(context.Background())
			require.NoError(t, err)

			store.fail(tc.err)
			e.srv.RevokeToken(tok.AccessToken) // a 401 would now ask the Store for a refresh
			for range 3 {
				_, err = m.Client(mgrKey).User.Me(context.Background())
				ne := notionErr(t, err)
				assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
				assert.Equal(t, tc.kind, ne.Kind, "%v", err)
				assert.Equal(t, mgrKey, ne.Key)
			}
			assert.Positive(t, store.calls.Load(), "the Store was asked")
			_, err = m.Client("never-read").User.Me(context.Background())
			ne := notionErr(t, err)
			assert.Equal(t, tc.kind, ne.Kind, "a key read for the first time: %v", err)
			assert.NotErrorIs(t, err, notionauth.ErrGrantNotFound, "a failing Store is not a missing grant")
			assert.Empty(t, e.revoked.get(), "a failing Store revokes nothing")

			store.err.Store(nil)
			g, err := m.Grant(context.Background(), mgrKey)
			require.NoError(t, err)
			assert.True(t, g.Revoked.IsZero(), "the grant is intact")
			assert.Equal(t, tok.RefreshToken, g.Token.RefreshToken)
		})
	}
}

var errNoSpace = errors.New("no space left on device")
