package notionauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
)

const (
	oauthClientID = "notionauth-test-client"
	// The secret has no token prefix, so that Error's own redaction of
	// token-like strings cannot hide a leak from these tests.
	oauthSecret   = "cs-CLIENTSECRET-7d1e9a40b2"
	oauthRedirect = "https://app.example/notion/callback"
	testSession   = "session-of-ada"
)

var testStateKey = []byte("0123456789abcdef0123456789abcdef-state-key")

// testClock is a clock that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// oauthEnv is a fake Notion with a registered public connection and a
// Config for it.
type oauthEnv struct {
	srv   *notiontest.Server
	cfg   *notionauth.Config
	clock *testClock
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	t.Helper()
	srv := notiontest.New(t)
	srv.AddOAuthClient(oauthClientID, oauthSecret, oauthRedirect)
	clock := newTestClock()
	cfg := &notionauth.Config{
		ClientID:     oauthClientID,
		ClientSecret: oauthSecret,
		RedirectURL:  oauthRedirect,
		BaseURL:      srv.URL,
		StateKey:     testStateKey,
		Now:          clock.Now,
	}
	return &oauthEnv{srv: srv, cfg: cfg, clock: clock}
}

// noRedirects is an http.Client that returns redirects instead of
// following them, as a test standing in for the browser needs.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// authorize plays the browser: it opens the authorize URL for session and
// returns where Notion redirected it.
func (e *oauthEnv) authorize(t *testing.T, session string) *url.URL {
	t.Helper()
	state, err := e.cfg.NewState(session)
	require.NoError(t, err)
	return e.open(t, e.cfg.AuthCodeURL(state))
}

func (e *oauthEnv) open(t *testing.T, authURL string) *url.URL {
	t.Helper()
	resp, err := noRedirects.Get(authURL)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc
}

// callback is the request the browser then sends to the app.
func callback(loc *url.URL) *http.Request {
	return httptest.NewRequest(http.MethodGet, loc.String(), nil)
}

// connect runs the whole flow and returns the grant.
func (e *oauthEnv) connect(t *testing.T) *notionauth.Token {
	t.Helper()
	tok, err := e.cfg.HandleCallback(context.Background(), callback(e.authorize(t, testSession)), testSession)
	require.NoError(t, err)
	return tok
}

// getMe calls GET /v1/users/me with token, without any Transport.
func (e *oauthEnv) getMe(t *testing.T, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/users/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Notion-Version", notionauth.DefaultNotionVersion)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestAuthCodeURL(t *testing.T) {
	t.Parallel()
	cfg := &notionauth.Config{ClientID: "cid", ClientSecret: oauthSecret, RedirectURL: oauthRedirect}
	u, err := url.Parse(cfg.AuthCodeURL("st"))
	require.NoError(t, err)
	assert.Equal(t, "https://api.notion.com/v1/oauth/authorize", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, url.Values{
		"client_id": {"cid"}, "redirect_uri": {oauthRedirect}, "response_type": {"code"},
		"owner": {"user"}, "state": {"st"},
	}, u.Query())
	assert.NotContains(t, cfg.AuthCodeURL("st"), oauthSecret)

	cfg = &notionauth.Config{ClientID: "cid", BaseURL: "http://127.0.0.1:9/prefix/"}
	u, err = url.Parse(cfg.AuthCodeURL(""))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9/prefix/v1/oauth/authorize", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, url.Values{"client_id": {"cid"}, "response_type": {"code"}, "owner": {"user"}}, u.Query())
}

func TestOAuthFullFlow(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()

	state, err := e.cfg.NewState(testSession)
	require.NoError(t, err)
	loc := e.open(t, e.cfg.AuthCodeURL(state))
	assert.Equal(t, "app.example", loc.Host)
	assert.Equal(t, state, loc.Query().Get("state"))
	require.NotEmpty(t, loc.Query().Get("code"))

	tok, err := e.cfg.HandleCallback(ctx, callback(loc), testSession)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok.AccessToken, "ntn_"), "an access token")
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, "bearer", tok.TokenType)
	assert.Equal(t, e.srv.BotID(tok.AccessToken), tok.BotID)
	assert.NotEmpty(t, tok.WorkspaceID)
	assert.Equal(t, "notiontest workspace", tok.WorkspaceName)
	assert.Equal(t, "user", tok.Owner.Type, "the authorize URL asks for owner=user")
	assert.NotEmpty(t, tok.Owner.UserID)
	assert.Equal(t, "notiontest user", tok.Owner.UserName)
	assert.Equal(t, "user@notiontest.example", tok.Owner.UserEmail)
	assert.Equal(t, e.clock.Now(), tok.Obtained, "Obtained comes from Config.Now")

	// The request was what notion.md documents.
	var exchange *notiontest.Request
	for _, r := range e.srv.Requests() {
		if r.Path == "/v1/oauth/token" {
			exchange = &r
		}
	}
	require.NotNil(t, exchange)
	assert.Equal(t, http.MethodPost, exchange.Method)
	var body map[string]string
	require.NoError(t, json.Unmarshal(exchange.Body, &body), "a JSON body")
	assert.Equal(t, map[string]string{"grant_type": "authorization_code", "code": loc.Query().Get("code"),
		"redirect_uri": oauthRedirect}, body)

	// The grant works for API calls through the Transport.
	tr := &notionauth.Transport{Base: e.srv.Transport(), Source: oauth2.StaticTokenSource(tok.OAuth2())}
	me, err := notionauth.NewClient(tr).User.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok.BotID, string(me.ID))

	// The callback cannot be replayed: the state is spent.
	_, err = e.cfg.HandleCallback(ctx, callback(loc), testSession)
	var se *notionauth.StateError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, notionauth.StateReplayed, se.Reason)
}

func TestOAuthRequestShape(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, contentType, version, user, pass string
		basic                                          bool
		body                                           map[string]any
	}
	var mu sync.Mutex
	var got []seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			version: r.Header.Get("Notion-Version")}
		s.user, s.pass, s.basic = r.BasicAuth()
		_ = json.NewDecoder(r.Body).Decode(&s.body)
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/oauth/token":
			_, _ = io.WriteString(w, `{"access_token":"ntn_x1234567890","token_type":"bearer","refresh_token":"nrt_y1234567890"}`)
		case "/v1/oauth/introspect":
			_, _ = io.WriteString(w, `{"active":true}`)
		default:
			_, _ = io.WriteString(w, `{}`)
		}
	}))
	t.Cleanup(ts.Close)
	cfg := &notionauth.Config{ClientID: oauthClientID, ClientSecret: oauthSecret, RedirectURL: oauthRedirect,
		BaseURL: ts.URL, NotionVersion: "2025-09-03"}
	ctx := context.Background()
	_, err := cfg.Exchange(ctx, "the-code")
	require.NoError(t, err)
	_, err = cfg.Refresh(ctx, "nrt_old")
	require.NoError(t, err)
	_, err = cfg.Introspect(ctx, "ntn_tok")
	require.NoError(t, err)
	require.NoError(t, cfg.Revoke(ctx, "ntn_tok"))

	want := []struct {
		path string
		body map[string]any
	}{
		{"/v1/oauth/token", map[string]any{"grant_type": "authorization_code", "code": "the-code", "redirect_uri": oauthRedirect}},
		{"/v1/oauth/token", map[string]any{"grant_type": "refresh_token", "refresh_token": "nrt_old"}},
		{"/v1/oauth/introspect", map[string]any{"token": "ntn_tok"}},
		{"/v1/oauth/revoke", map[string]any{"token": "ntn_tok"}},
	}
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, http.MethodPost, got[i].method)
		assert.Equal(t, w.path, got[i].path)
		assert.Equal(t, "application/json", got[i].contentType)
		assert.Equal(t, "2025-09-03", got[i].version)
		assert.True(t, got[i].basic, "HTTP Basic client credentials")
		assert.Equal(t, oauthClientID, got[i].user)
		assert.Equal(t, oauthSecret, got[i].pass)
		assert.Equal(t, w.body, got[i].body)
	}

	// Without a RedirectURL none is sent.
	cfg.RedirectURL = ""
	_, err = cfg.Exchange(ctx, "the-code")
	require.NoError(t, err)
	assert.NotContains(t, got[len(got)-1].body, "redirect_uri")
}

func TestOAuthCallbackDenied(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	e.srv.DenyAuthorizations(true)
	loc := e.authorize(t, testSession)
	assert.Equal(t, "access_denied", loc.Query().Get("error"))

	_, err := e.cfg.HandleCallback(context.Background(), callback(loc), testSession)
	require.ErrorIs(t, err, notionauth.ErrUserCancelled)
	var ce *notionauth.CallbackError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "access_denied", ce.Code)
	assert.False(t, errors.Is(err, notionauth.ErrStateInvalid))
	assert.Equal(t, 0, e.srv.Count(http.MethodPost, "/v1/oauth/token"), "nothing to exchange")
}

func TestOAuthCallbackErrors(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()
	newState := func() string {
		s, err := e.cfg.NewState(testSession)
		require.NoError(t, err)
		return s
	}
	req := func(q url.Values) *http.Request {
		return httptest.NewRequest(http.MethodGet, oauthRedirect+"?"+q.Encode(), nil)
	}

	// The state is checked before anything else: a forged state with
	// access_denied is a state error, not a cancellation.
	_, err := e.cfg.HandleCallback(ctx, req(url.Values{"error": {"access_denied"}, "state": {"forged"}}), testSession)
	require.ErrorIs(t, err, notionauth.ErrStateInvalid)
	assert.False(t, errors.Is(err, notionauth.ErrUserCancelled))

	// ... and a good code with a bad state is never exchanged.
	code := e.srv.NewAuthCode(oauthClientID)
	_, err = e.cfg.HandleCallback(ctx, req(url.Values{"code": {code}}), testSession)
	require.ErrorIs(t, err, notionauth.ErrStateInvalid)
	_, err = e.cfg.HandleCallback(ctx, req(url.Values{"code": {code}, "state": {newState()}}), "someone-else")
	require.ErrorIs(t, err, notionauth.ErrStateInvalid)
	assert.Equal(t, 0, e.srv.Count(http.MethodPost, "/v1/oauth/token"))

	// Another error from the authorize page.
	_, err = e.cfg.HandleCallback(ctx, req(url.Values{"error": {"server_error"},
		"error_description": {"boom\nsecond line"}, "state": {newState()}}), testSession)
	var ce *notionauth.CallbackError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "server_error", ce.Code)
	assert.Equal(t, "boom\nsecond line", ce.Description)
	assert.False(t, errors.Is(err, notionauth.ErrUserCancelled))
	assert.NotContains(t, err.Error(), "\n", "one line")

	// Neither code nor error.
	_, err = e.cfg.HandleCallback(ctx, req(url.Values{"state": {newState()}}), testSession)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "invalid_request", ce.Code)

	// The code goes through: a code already used is invalid_grant.
	tok, err := e.cfg.HandleCallback(ctx, req(url.Values{"code": {code}, "state": {newState()}}), testSession)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	_, err = e.cfg.HandleCallback(ctx, req(url.Values{"code": {code}, "state": {newState()}}), testSession)
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)

	_, err = e.cfg.HandleCallback(ctx, nil, testSession)
	assert.Error(t, err)
}

func TestVerifyState(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()
	newState := func(session string) string {
		s, err := e.cfg.NewState(session)
		require.NoError(t, err)
		return s
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	otherKey := *e.cfg
	otherKey.StateKey = []byte("another-key-of-at-least-32-bytes!!")
	otherClient := *e.cfg
	otherClient.ClientID = "another-client"
	stateOf := func(cfg *notionauth.Config) string {
		s, err := cfg.NewState(testSession)
		require.NoError(t, err)
		return s
	}
	good := newState(testSession)

	tests := []struct {
		name    string
		state   string
		session string
		reason  string
	}{
		{"empty", "", testSession, notionauth.StateMalformed},
		{"garbage", "not-a-state", testSession, notionauth.StateMalformed},
		{"too long", good + "AAAA", testSession, notionauth.StateMalformed},
		{"truncated", good[:len(good)-1], testSession, notionauth.StateMalformed},
		{"bad base64", "!" + good[1:], testSession, notionauth.StateMalformed},
		{"padded base64", good[:len(good)-2] + "==", testSession, notionauth.StateMalformed},
		{"signature changed", flip(newState(testSession), len(good)-3), testSession, notionauth.StateForged},
		{"expiry changed", flip(newState(testSession), 4), testSession, notionauth.StateForged},
		{"nonce changed", flip(newState(testSession), 20), testSession, notionauth.StateForged},
		{"session tag changed", flip(newState(testSession), 40), testSession, notionauth.StateForged},
		{"another key", stateOf(&otherKey), testSession, notionauth.StateForged},
		{"another client", stateOf(&otherClient), testSession, notionauth.StateForged},
		{"other session", newState(testSession), "session-of-mallory", notionauth.StateSession},
		{"no session", newState(testSession), "", notionauth.StateSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.cfg.VerifyState(ctx, tt.state, tt.session)
			require.ErrorIs(t, err, notionauth.ErrStateInvalid)
			var se *notionauth.StateError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.reason, se.Reason)
			assert.Equal(t, "notionauth: invalid OAuth state: "+tt.reason, err.Error())
		})
	}

	// A good state works once, for its session.
	require.NoError(t, e.cfg.VerifyState(ctx, good, testSession))
	err := e.cfg.VerifyState(ctx, good, testSession)
	var se *notionauth.StateError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, notionauth.StateReplayed, se.Reason)

	// A state refused for another session is not spent.
	st := newState(testSession)
	require.ErrorIs(t, e.cfg.VerifyState(ctx, st, "session-of-mallory"), notionauth.ErrStateInvalid)
	require.NoError(t, e.cfg.VerifyState(ctx, st, testSession))

	// States are unguessable: no two alike.
	seen := map[string]bool{}
	for range 100 {
		s := newState(testSession)
		require.False(t, seen[s])
		seen[s] = true
	}
}

func TestVerifyStateExpiry(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()

	st, err := e.cfg.NewState(testSession)
	require.NoError(t, err)
	e.clock.Advance(notionauth.DefaultStateTTL - time.Second)
	require.NoError(t, e.cfg.VerifyState(ctx, st, testSession), "just in time")

	st, err = e.cfg.NewState(testSession)
	require.NoError(t, err)
	e.clock.Advance(notionauth.DefaultStateTTL)
	err = e.cfg.VerifyState(ctx, st, testSession)
	var se *notionauth.StateError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, notionauth.StateExpired, se.Reason)

	e.cfg.StateTTL = time.Minute
	st, err = e.cfg.NewState(testSession)
	require.NoError(t, err)
	e.clock.Advance(61 * time.Second)
	require.ErrorAs(t, e.cfg.VerifyState(ctx, st, testSession), &se)
	assert.Equal(t, notionauth.StateExpired, se.Reason)

	// An expired callback never reaches the token endpoint.
	loc := e.authorize(t, testSession)
	e.clock.Advance(time.Hour)
	_, err = e.cfg.HandleCallback(ctx, callback(loc), testSession)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, notionauth.StateExpired, se.Reason)
	assert.Equal(t, 0, e.srv.Count(http.MethodPost, "/v1/oauth/token"))
}

func TestStateKeyRequired(t *testing.T) {
	t.Parallel()
	for _, key := range [][]byte{nil, []byte("short key, 31 bytes long.......")} {
		cfg := &notionauth.Config{ClientID: oauthClientID, StateKey: key}
		_, err := cfg.NewState(testSession)
		require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
		assert.Contains(t, err.Error(), "StateKey")
		err = cfg.VerifyState(context.Background(), "whatever", testSession)
		require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
		assert.False(t, errors.Is(err, notionauth.ErrStateInvalid), "a configuration error, not a bad state")
	}
	cfg := &notionauth.Config{StateKey: testStateKey}
	_, err := cfg.NewState("")
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest, "a state must be bound to a session")
}

func TestVerifyStateConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	st, err := e.cfg.NewState(testSession)
	require.NoError(t, err)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.cfg.VerifyState(context.Background(), st, testSession) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load(), "exactly one use succeeds")
}

// sharedStates is a UsedStates shared by replicas.
type sharedStates struct {
	mu    sync.Mutex
	used  map[string]time.Time
	err   error
	calls int
}

func (s *sharedStates) Use(_ context.Context, nonce string, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return false, s.err
	}
	if _, ok := s.used[nonce]; ok {
		return false, nil
	}
	if s.used == nil {
		s.used = map[string]time.Time{}
	}
	s.used[nonce] = until
	return true, nil
}

func TestVerifyStateAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	replica := func(used notionauth.UsedStates) *notionauth.Config {
		return &notionauth.Config{ClientID: oauthClientID, StateKey: testStateKey, Now: clock.Now, UsedStates: used}
	}

	// In memory: single use per replica; another replica accepts the state
	// once more, but only for the session it is bound to.
	a, b := replica(nil), replica(nil)
	st, err := a.NewState(testSession)
	require.NoError(t, err)
	require.NoError(t, a.VerifyState(ctx, st, testSession))
	require.ErrorIs(t, a.VerifyState(ctx, st, testSession), notionauth.ErrStateInvalid)
	require.ErrorIs(t, b.VerifyState(ctx, st, "session-of-mallory"), notionauth.ErrStateInvalid)
	require.NoError(t, b.VerifyState(ctx, st, testSession), "documented: memory is per replica")

	// Shared: single use everywhere.
	shared := &sharedStates{}
	a, b = replica(shared), replica(shared)
	st, err = a.NewState(testSession)
	require.NoError(t, err)
	require.NoError(t, b.VerifyState(ctx, st, testSession))
	err = a.VerifyState(ctx, st, testSession)
	var se *notionauth.StateError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, notionauth.StateReplayed, se.Reason)
	require.Len(t, shared.used, 1)
	for nonce, until := range shared.used {
		assert.Len(t, nonce, 32, "the nonce, in hex")
		assert.True(t, clock.Now().Add(notionauth.DefaultStateTTL).Equal(until), "remembered until the state expires, not %v", until)
	}

	// Bad states never reach the store; a failing store fails closed.
	calls := shared.calls
	require.ErrorIs(t, a.VerifyState(ctx, "garbage", testSession), notionauth.ErrStateInvalid)
	assert.Equal(t, calls, shared.calls)
	shared.err = errors.New("redis is down")
	st, err = a.NewState(testSession)
	require.NoError(t, err)
	err = a.VerifyState(ctx, st, testSession)
	require.Error(t, err)
	assert.False(t, errors.Is(err, notionauth.ErrStateInvalid))
	assert.ErrorIs(t, err, notionauth.ErrUnavailable)
	assert.ErrorIs(t, err, shared.err)
}

func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{"oauth", "notion"} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			e := newOAuthEnv(t)
			e.srv.SetNotionErrorShape(shape == "notion")
			ctx := context.Background()

			code := e.srv.NewAuthCode(oauthClientID)
			_, err := e.cfg.Exchange(ctx, code)
			require.NoError(t, err)
			_, err = e.cfg.Exchange(ctx, code)
			require.ErrorIs(t, err, notionauth.ErrAuthRevoked, "a used code is invalid_grant")
			var ne *notionauth.Error
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, "invalid_grant", ne.Code)
			assert.Equal(t, http.StatusBadRequest, ne.StatusCode)
			assertNoSecrets(t, fmt.Sprintf("%v %+v %#v %s", err, err, err, err), oauthSecret, code)

			wrong := *e.cfg
			wrong.ClientSecret = "cs-WRONGSECRET-0000"
			code = e.srv.NewAuthCode(oauthClientID)
			_, err = wrong.Exchange(ctx, code)
			require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, notionauth.InvalidRequest, ne.Kind)
			assert.Equal(t, "invalid_client", ne.Code)
			assert.Equal(t, http.StatusUnauthorized, ne.StatusCode)
			assert.Contains(t, err.Error(), "client credentials")
			for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				assert.NotContains(t, s, wrong.ClientSecret)
				assert.NotContains(t, s, oauthSecret)
				assert.NotContains(t, s, code)
			}

			// Redirect URI mismatch is invalid_grant too.
			other := *e.cfg
			other.RedirectURL = "https://evil.example/cb"
			_, err = other.Exchange(ctx, e.srv.NewAuthCode(oauthClientID))
			require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
		})
	}
}

func TestOAuthCallsWithoutNetwork(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()
	noSecret := *e.cfg
	noSecret.ClientSecret = ""
	noID := *e.cfg
	noID.ClientID = ""
	calls := map[string]func() error{
		"empty code":          func() error { _, err := e.cfg.Exchange(ctx, ""); return err },
		"empty refresh token": func() error { _, err := e.cfg.Refresh(ctx, ""); return err },
		"empty introspect":    func() error { _, err := e.cfg.Introspect(ctx, ""); return err },
		"empty revoke":        func() error { return e.cfg.Revoke(ctx, "") },
		"no secret":           func() error { _, err := noSecret.Exchange(ctx, "code"); return err },
		"no client id":        func() error { _, err := noID.Refresh(ctx, "nrt_x"); return err },
		"nil config":          func() error { _, err := (*notionauth.Config)(nil).Refresh(ctx, "nrt_x"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
		})
	}
	assert.Empty(t, e.srv.Requests(), "nothing was sent")
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{"oauth", "notion"} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			e := newOAuthEnv(t)
			e.srv.SetNotionErrorShape(shape == "notion")
			ctx := context.Background()
			first := e.connect(t)

			e.clock.Advance(time.Hour)
			second, err := e.cfg.Refresh(ctx, first.RefreshToken)
			require.NoError(t, err)
			assert.NotEqual(t, first.AccessToken, second.AccessToken, "a new access token")
			assert.NotEmpty(t, second.RefreshToken)
			assert.NotEqual(t, first.RefreshToken, second.RefreshToken, "a new refresh token: rotation")
			assert.Equal(t, first.BotID, second.BotID)
			assert.Equal(t, first.WorkspaceID, second.WorkspaceID)
			assert.Equal(t, first.Owner, second.Owner)
			assert.Equal(t, e.clock.Now(), second.Obtained)
			assert.Equal(t, 1, e.srv.RefreshCount())
			assert.Equal(t, http.StatusOK, e.getMe(t, second.AccessToken))

			_, err = e.cfg.Refresh(ctx, first.RefreshToken)
			require.ErrorIs(t, err, notionauth.ErrAuthRevoked, "the rotated refresh token is spent")
			assert.Equal(t, notionauth.AuthRevoked, notionauth.KindOf(err))
			assertNoSecrets(t, fmt.Sprintf("%v %+v %#v", err, err, err), oauthSecret, first.RefreshToken)

			third, err := e.cfg.Refresh(ctx, second.RefreshToken)
			require.NoError(t, err)
			assert.NotEqual(t, second.RefreshToken, third.RefreshToken)
		})
	}
}

func TestRefreshLostAnswer(t *testing.T) {
	t.Parallel()
	for _, kill := range []bool{false, true} {
		t.Run(fmt.Sprint("kill family ", kill), func(t *testing.T) {
			t.Parallel()
			e := newOAuthEnv(t)
			e.srv.KillFamilyOnReuse(kill)
			ctx := context.Background()
			tok := e.connect(t)

			e.srv.DropNextRefreshResponse()
			_, err := e.cfg.Refresh(ctx, tok.RefreshToken)
			require.Error(t, err)
			assert.Equal(t, notionauth.Unavailable, notionauth.KindOf(err), "no answer: nothing is known")
			assert.False(t, errors.Is(err, notionauth.ErrAuthRevoked))
			var ne *notionauth.Error
			require.ErrorAs(t, err, &ne)
			assert.Error(t, ne.Err, "the network cause is kept")
			assertNoSecrets(t, fmt.Sprintf("%v %+v %#v", err, err, err), oauthSecret, tok.RefreshToken)

			// Notion did rotate: retrying with the old refresh token is a reuse.
			_, err = e.cfg.Refresh(ctx, tok.RefreshToken)
			require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
			assert.Equal(t, 2, e.srv.RefreshCount())
			want := http.StatusOK
			if kill {
				want = http.StatusUnauthorized
			}
			assert.Equal(t, want, e.getMe(t, tok.AccessToken), "the family dies on reuse only when the server says so")
		})
	}
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	tok := e.connect(t)

	for _, token := range []string{tok.AccessToken, tok.RefreshToken} {
		in, err := e.cfg.Introspect(ctx, token)
		require.NoError(t, err)
		assert.True(t, in.Active)
		assert.NotEmpty(t, in.Scope)
		assert.NotEmpty(t, in.RequestID)
		assert.WithinRange(t, in.IssuedAt, before.Truncate(time.Second), time.Now().Add(time.Second))
	}
	in, err := e.cfg.Introspect(ctx, "ntn_unknown0123456789")
	require.NoError(t, err)
	assert.False(t, in.Active)
	assert.True(t, in.IssuedAt.IsZero())

	require.NoError(t, e.cfg.Revoke(ctx, tok.AccessToken))
	in, err = e.cfg.Introspect(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.False(t, in.Active, "revoked")

	wrong := *e.cfg
	wrong.ClientSecret = "cs-WRONG"
	_, err = wrong.Introspect(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	assertNoSecrets(t, fmt.Sprintf("%v %+v %#v", err, err, err), oauthSecret, tok.RefreshToken)
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	ctx := context.Background()
	tok := e.connect(t)
	assert.Equal(t, http.StatusOK, e.getMe(t, tok.AccessToken))

	require.NoError(t, e.cfg.Revoke(ctx, tok.AccessToken))
	assert.Equal(t, http.StatusUnauthorized, e.getMe(t, tok.AccessToken))

	// Through the Transport the 401 is confirmed and reported as revoked.
	var revoked atomic.Int32
	tr := &notionauth.Transport{Base: e.srv.Transport(), Source: oauth2.StaticTokenSource(tok.OAuth2()),
		OnAuthRevoked: func(context.Context, *notionauth.Error) { revoked.Add(1) }}
	_, err := notionauth.NewClient(tr).User.Me(ctx)
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Equal(t, int32(1), revoked.Load())

	// Revoking the refresh token ends the grant.
	require.NoError(t, e.cfg.Revoke(ctx, tok.RefreshToken))
	_, err = e.cfg.Refresh(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)

	for _, shape := range []bool{false, true} {
		e.srv.SetNotionErrorShape(shape)
		wrong := *e.cfg
		wrong.ClientSecret = "cs-WRONG"
		err = wrong.Revoke(ctx, tok.AccessToken)
		require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
		assert.Contains(t, err.Error(), "client credentials")
		assertNoSecrets(t, fmt.Sprintf("%v %+v %#v", err, err, err), "cs-WRONG", oauthSecret, tok.AccessToken)
	}
}

// answering is a token endpoint that answers every request with status
// and body.
func answering(t *testing.T, status int, contentType, body string) *notionauth.Config {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return &notionauth.Config{ClientID: oauthClientID, ClientSecret: oauthSecret, BaseURL: ts.URL}
}

func TestTokenEndpointOddAnswers(t *testing.T) {
	t.Parallel()
	const jsonType = "application/json"
	big := `{"access_token":"ntn_x","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		kind        notionauth.Kind
		code        string
		reason      string
	}{
		{"200 with an OAuth error", 200, jsonType, `{"error":"invalid_grant","error_description":"Invalid code."}`,
			notionauth.AuthRevoked, "invalid_grant", ""},
		{"200 with a Notion error", 200, jsonType,
			`{"object":"error","status":401,"code":"invalid_client","message":"Invalid client.","request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`,
			notionauth.InvalidRequest, "invalid_client", ""},
		{"200 with an unknown error", 200, jsonType, `{"error":"temporarily_unavailable"}`,
			notionauth.InvalidRequest, "temporarily_unavailable", ""},
		{"200 without access_token", 200, jsonType, `{"token_type":"bearer","bot_id":"b"}`,
			notionauth.Unavailable, "", ""},
		{"200 empty", 200, jsonType, ``, notionauth.Unavailable, "", ""},
		{"200 null", 200, jsonType, `null`, notionauth.Unavailable, "", notionauth.ReasonEdge},
		{"200 HTML", 200, "text/html", `<html><title>Captive portal</title></html>`,
			notionauth.Unavailable, "", notionauth.ReasonEdge},
		{"200 over 1 MiB", 200, jsonType, big, notionauth.Unavailable, "", ""},
		{"302", 302, jsonType, ``, notionauth.Unavailable, "", ""},
		{"500", 500, jsonType, `{"object":"error","status":500,"code":"internal_server_error","message":"x","request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`,
			notionauth.Unavailable, "internal_server_error", ""},
		{"503 edge page", 503, "text/html", `<html><title>Service Unavailable</title></html>`,
			notionauth.Unavailable, "", notionauth.ReasonEdge},
		{"400 unsupported grant", 400, jsonType, `{"error":"unsupported_grant_type"}`,
			notionauth.InvalidRequest, "unsupported_grant_type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := answering(t, tt.status, tt.contentType, tt.body)
			_, err := cfg.Refresh(context.Background(), "nrt_refresh0123456789")
			var ne *notionauth.Error
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, tt.kind, ne.Kind, "%v", err)
			assert.Equal(t, tt.code, ne.Code)
			assert.Equal(t, tt.reason, ne.Reason)
			assert.Equal(t, tt.status, ne.StatusCode)
			assert.Equal(t, "/v1/oauth/token", ne.Path)
		})
	}

	// Introspection needs its "active".
	_, err := answering(t, 200, jsonType, `{"scope":"x"}`).Introspect(context.Background(), "ntn_x")
	require.ErrorIs(t, err, notionauth.ErrUnavailable)
	_, err = answering(t, 200, jsonType, `{"active":"yes"}`).Introspect(context.Background(), "ntn_x")
	require.ErrorIs(t, err, notionauth.ErrUnavailable)
	// Revoke needs nothing.
	require.NoError(t, answering(t, 200, jsonType, ``).Revoke(context.Background(), "ntn_x"))
	require.NoError(t, answering(t, 200, jsonType, `{"request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`).Revoke(context.Background(), "ntn_x"))
}

func TestRefreshNullRefreshToken(t *testing.T) {
	t.Parallel()
	cfg := answering(t, 200, "application/json", `{"access_token":"ntn_new0123456789","token_type":"bearer",
		"refresh_token":null,"bot_id":"b","workspace_id":"w","workspace_name":null,"workspace_icon":null,
		"owner":{"type":"workspace","workspace":true},"duplicated_template_id":null,"request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`)
	tok, err := cfg.Refresh(context.Background(), "nrt_old0123456789")
	require.NoError(t, err)
	assert.Equal(t, "ntn_new0123456789", tok.AccessToken)
	assert.Empty(t, tok.RefreshToken, "null: the caller keeps the old one")
	assert.Equal(t, notionauth.Owner{Type: "workspace"}, tok.Owner)
	assert.Empty(t, tok.WorkspaceName)

	// Mistyped fields are skipped, not fatal.
	cfg = answering(t, 200, "application/json", `{"access_token":"ntn_new0123456789","bot_id":5,
		"owner":{"type":"user","user":{"id":7,"name":"Ada","person":{"email":"ada@example.com"}}}}`)
	tok, err = cfg.Exchange(context.Background(), "code")
	require.NoError(t, err)
	assert.Empty(t, tok.BotID)
	assert.Equal(t, notionauth.Owner{Type: "user", UserName: "Ada", UserEmail: "ada@example.com"}, tok.Owner)
}

func TestIntrospectIssuedAtUnits(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 9, 28, 20, 7, 41, 0, time.UTC)
	for name, iat := range map[string]string{
		"seconds":      fmt.Sprint(at.Unix()),
		"milliseconds": fmt.Sprint(at.UnixMilli()),
		"float":        fmt.Sprint(at.Unix()) + ".0",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := answering(t, 200, "application/json", `{"active":true,"scope":"s","iat":`+iat+`,"request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`)
			in, err := cfg.Introspect(context.Background(), "ntn_x")
			require.NoError(t, err)
			assert.Equal(t, at, in.IssuedAt)
			assert.Equal(t, "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", in.RequestID)
		})
	}
}

// TestOAuthErrorsNeverQuoteSecrets points the Config at a server that
// echoes everything it was sent (body and Authorization header) in its
// error message, and at a dead one.
func TestOAuthErrorsNeverQuoteSecrets(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg := string(body) + " auth=" + r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		status := http.StatusBadRequest
		if r.URL.Path == "/v1/oauth/introspect" {
			status = http.StatusOK // an error in a 200
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": msg})
	}))
	t.Cleanup(ts.Close)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/html")
		_, _ = fmt.Fprintf(w, "<html><title>%s %s</title></html>", body, r.Header.Get("Authorization"))
	}))
	t.Cleanup(html.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	const code = "code-CODEVALUE-5150"
	const access = "tok-ACCESSVALUE-2112"
	const refresh = "tok-REFRESHVALUE-1984"
	basic := base64.StdEncoding.EncodeToString([]byte(oauthClientID + ":" + oauthSecret))
	for _, base := range []string{ts.URL, html.URL, dead.URL} {
		cfg := &notionauth.Config{ClientID: oauthClientID, ClientSecret: oauthSecret, BaseURL: base}
		ctx := context.Background()
		var errs []error
		_, err := cfg.Exchange(ctx, code)
		errs = append(errs, err)
		_, err = cfg.Refresh(ctx, refresh)
		errs = append(errs, err)
		_, err = cfg.Introspect(ctx, access)
		errs = append(errs, err)
		errs = append(errs, cfg.Revoke(ctx, access))
		for _, err := range errs {
			require.Error(t, err)
			for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				for _, secret := range []string{oauthSecret, basic, code, access, refresh} {
					assert.NotContains(t, s, secret, "base %s", base)
				}
			}
		}
	}
}

func TestOAuthContextCancelled(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	e.srv.Inject(notiontest.Latency(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.cfg.Exchange(ctx, e.srv.NewAuthCode(oauthClientID))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, notionauth.Unavailable, notionauth.KindOf(err))
}

// TestOAuthThroughTransport sends the token calls through a Transport: its
// classification reaches the caller, and Basic credentials are kept.
func TestOAuthThroughTransport(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t)
	tok := e.connect(t)
	cfg := *e.cfg
	cfg.HTTPClient = &http.Client{Transport: &notionauth.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ntn_unrelated0123456789"}),
	}}
	second, err := cfg.Refresh(context.Background(), tok.RefreshToken)
	require.NoError(t, err, "Basic credentials are not replaced by the Source's bearer token")
	_, err = cfg.Refresh(context.Background(), tok.RefreshToken)
	require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.NotEmpty(t, second.AccessToken)
}

func TestConfigPrintsNoSecrets(t *testing.T) {
	t.Parallel()
	cfg := notionauth.Config{
		ClientID: oauthClientID, ClientSecret: oauthSecret, RedirectURL: oauthRedirect,
		StateKey: testStateKey, HTTPClient: http.DefaultClient, UsedStates: &sharedStates{},
		Now: time.Now, StateTTL: time.Minute,
	}
	// Use it first, so that its memory of used states exists.
	st, err := cfg.NewState(testSession)
	require.NoError(t, err)
	require.NoError(t, cfg.VerifyState(context.Background(), st, testSession))

	secrets := []string{oauthSecret, string(testStateKey), fmt.Sprint(testStateKey),
		fmt.Sprintf("%x", testStateKey), base64.StdEncoding.EncodeToString(testStateKey)}
	check := func(t *testing.T, s string) {
		t.Helper()
		for _, secret := range secrets {
			assert.NotContains(t, s, secret)
		}
		assert.NotContains(t, s, "CLIENTSECRET")
		assert.NotContains(t, s, "state-key")
	}
	type wrapper struct {
		Cfg notionauth.Config
		Ptr *notionauth.Config
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for name, v := range map[string]any{"value": cfg, "pointer": &cfg, "wrapper": wrapper{cfg, &cfg}} {
			t.Run(verb+"/"+name, func(t *testing.T) {
				check(t, fmt.Sprintf(verb, v))
			})
		}
	}
	s := fmt.Sprint(cfg)
	assert.Contains(t, s, "ClientSecret:[redacted]")
	assert.Contains(t, s, "StateKey:[redacted]")
	assert.Contains(t, s, oauthClientID)
	assert.Contains(t, fmt.Sprintf("%#v", cfg), `ClientSecret:"[redacted]"`)

	for _, handler := range []string{"json", "text"} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewJSONHandler(&buf, nil)
		if handler == "text" {
			h = slog.NewTextHandler(&buf, nil)
		}
		slog.New(h).Info("oauth", "config", cfg, "ptr", &cfg)
		check(t, buf.String())
		assert.Contains(t, buf.String(), oauthClientID)
	}

	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	check(t, string(b))
	assert.Contains(t, string(b), `"client_secret":"[redacted]"`)
}
