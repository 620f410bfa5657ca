package notionauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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
	"github.com/notionauth/notionauth/store/filestore"
)

// mgrKey is the app's key for the grant under test: a workspace of the app.
const mgrKey = "workspace-acme"

// mgrEnv is a fake Notion with a registered public connection, a Config
// for it (from newOAuthEnv) and a Manager over a MemoryStore or an
// encrypted filestore.Store. Everything the tests print, and every error they
// meet, goes to leaks, which must never hold a secret.
type mgrEnv struct {
	*oauthEnv
	m       *notionauth.Manager
	fs      *filestore.Store // nil for a MemoryStore
	revoked *revokedLog
	leaks   *leakLog
	events  atomic.Int32 // Transport events seen (and logged)
}

func newMgrEnv(t *testing.T, file bool) *mgrEnv {
	t.Helper()
	if !file {
		return newMgrEnvStore(t, &notionauth.MemoryStore{})
	}
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	fs, err := filestore.New(filepath.Join(t.TempDir(), "grants"), key)
	require.NoError(t, err)
	e := newMgrEnvStore(t, fs)
	e.fs = fs
	e.leaks.secret(string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key))
	return e
}

// newMgrEnvStore is newMgrEnv with the Manager's Store given.
func newMgrEnvStore(t *testing.T, store notionauth.Store) *mgrEnv {
	t.Helper()
	e := &mgrEnv{oauthEnv: newOAuthEnv(t), revoked: &revokedLog{}, leaks: newLeakLog()}
	text := slog.New(slog.NewTextHandler(e.leaks, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Every event and log line is searched for secrets.
	e.m = &notionauth.Manager{
		Config:        e.cfg,
		Store:         store,
		Base:          e.srv.Transport(),
		Retry:         notionauth.RetryPolicy{BaseDelay: time.Millisecond},
		OnAuthRevoked: e.revoked.record,
		Logger:        slog.New(slog.NewJSONHandler(e.leaks, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnEvent: func(ev notionauth.Event) {
			e.events.Add(1)
			text.Info("event", "event", ev)
			e.leaks.add(fmt.Sprintf("%v %+v %#v", ev, ev, ev))
		},
	}
	return e
}

// connectKey runs the whole authorization for key through the Manager:
// state, consent screen, callback, exchange, storage.
func (e *mgrEnv) connectKey(t *testing.T, key string) *notionauth.Token {
	t.Helper()
	state, err := e.cfg.NewState(testSession)
	require.NoError(t, err)
	loc := e.open(t, e.cfg.AuthCodeURL(state))
	tok, err := e.m.HandleCallback(context.Background(), key, callback(loc), testSession)
	e.leaks.err(err)
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken)
	e.leaks.token(tok)
	e.leaks.print(tok)
	return tok
}

// grant returns what the Store holds for key, and learns its secrets.
func (e *mgrEnv) grant(t *testing.T, key string) *notionauth.Grant {
	t.Helper()
	g, err := e.m.Grant(context.Background(), key)
	e.leaks.err(err)
	require.NoError(t, err)
	require.NotNil(t, g.Token)
	e.leaks.token(g.Token)
	e.leaks.print(g)
	e.leaks.print(*g)
	return g
}

// me calls GET /v1/users/me through the Manager's client for key.
func (e *mgrEnv) me(key string) (*notionapi.User, error) {
	u, err := e.m.Client(key).User.Me(context.Background())
	e.leaks.err(err)
	return u, err
}

// sent is how many requests the fake has received.
func (e *mgrEnv) sent() int { return len(e.srv.Requests()) }

// finish prints the Manager, its Transport and the grant (if any), reads
// the store's file, and checks that no secret leaked anywhere.
func (e *mgrEnv) finish(t *testing.T) {
	t.Helper()
	if g, err := e.m.Grant(context.Background(), mgrKey); err == nil {
		e.leaks.token(g.Token)
		e.leaks.print(g)
		e.leaks.print(*g)
	}
	e.leaks.print(e.m)
	e.leaks.print(e.m.Transport(mgrKey))
	e.leaks.print(e.m.TokenSource(mgrKey))
	if e.fs != nil {
		data, err := os.ReadFile(e.fs.Path)
		require.NoError(t, err)
		e.leaks.add(string(data))
		e.leaks.print(e.fs)
	}
	e.leaks.check(t)
}

// revokedLog records the calls of Manager.OnAuthRevoked.
type revokedLog struct {
	mu    sync.Mutex
	calls []revokedCall
}

type revokedCall struct{ key, reason string }

func (r *revokedLog) record(_ context.Context, e *notionauth.Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, revokedCall{e.Key, e.Code})
}

func (r *revokedLog) get() []revokedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]revokedCall(nil), r.calls...)
}

// TestManagerFullFlow: authorize, callback, stored grant, API calls, the
// user removes the connection, the grant is reported revoked once and
// fails fast, the user reconnects, calls work again.
func TestManagerFullFlow(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"memory", "file"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			e := newMgrEnv(t, store == "file")
			ctx := context.Background()

			// The browser: authorize URL, consent screen, redirect.
			state, err := e.cfg.NewState(testSession)
			require.NoError(t, err)
			loc := e.open(t, e.cfg.AuthCodeURL(state))
			require.NotEmpty(t, loc.Query().Get("code"))
			tok, err := e.m.HandleCallback(ctx, mgrKey, callback(loc), testSession)
			e.leaks.err(err)
			require.NoError(t, err)
			e.leaks.token(tok)

			g := e.grant(t, mgrKey)
			assert.Equal(t, mgrKey, g.Key)
			assert.Equal(t, tok.AccessToken, g.Token.AccessToken)
			assert.Equal(t, tok.RefreshToken, g.Token.RefreshToken)
			assert.Equal(t, tok.BotID, g.Token.BotID)
			assert.True(t, g.Revoked.IsZero(), "a new grant is not revoked")
			assert.Equal(t, int64(1), g.Version)

			// API calls through the Manager's client, one of them after a
			// 503 (so that the Transport logs a retry).
			page := e.srv.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
			e.srv.Share(page, tok.AccessToken)
			e.srv.Inject(notiontest.Fault{Path: "/v1/users/me", Status: http.StatusServiceUnavailable})
			me, err := e.me(mgrKey)
			require.NoError(t, err)
			assert.Equal(t, e.srv.BotID(tok.AccessToken), string(me.ID))
			assert.NotZero(t, e.events.Load(), "the 503 was retried, and logged")
			p, err := e.m.Client(mgrKey).Page.Get(ctx, notionapi.PageID(page))
			e.leaks.err(err)
			require.NoError(t, err)
			assert.Equal(t, page, string(p.ID))
			assert.Equal(t, 0, e.srv.RefreshCount())
			assert.Empty(t, e.revoked.get())

			// The user removes the connection: the access token answers
			// 401 and the refresh token is revoked too.
			e.srv.RevokeToken(tok.AccessToken)
			require.NoError(t, e.cfg.Revoke(ctx, tok.RefreshToken))
			in, err := e.cfg.Introspect(ctx, tok.RefreshToken)
			require.NoError(t, err)
			require.False(t, in.Active, "the fake has really killed the grant")

			before, refreshes := e.sent(), e.srv.RefreshCount()
			_, err = e.me(mgrKey)
			require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
			assert.Equal(t, notionauth.AuthRevoked, notionauth.KindOf(err))
			assert.Equal(t, []revokedCall{{mgrKey, notionauth.CodeInvalidGrant}}, e.revoked.get(),
				"OnAuthRevoked once, with the key and the reason")
			assert.Equal(t, 1, e.srv.RefreshCount()-refreshes, "one refresh attempt, answered invalid_grant")
			got := e.srv.Requests()[before:]
			require.Len(t, got, 2, "the call's 401 and the refresh")
			assert.Equal(t, "/v1/users/me", got[0].Path)
			assert.Equal(t, http.StatusUnauthorized, got[0].Status)
			assert.Equal(t, "/v1/oauth/token", got[1].Path)
			assert.Equal(t, http.StatusBadRequest, got[1].Status)

			g = e.grant(t, mgrKey)
			assert.False(t, g.Revoked.IsZero(), "the grant is marked revoked in the Store")
			assert.Equal(t, notionauth.CodeInvalidGrant, g.RevokedReason)
			assert.Equal(t, tok.AccessToken, g.Token.AccessToken, "the token is kept, to show which workspace it was")

			// From now on nothing reaches Notion, from any client, any
			// goroutine, or another Manager (process) on the same Store.
			before = e.sent()
			other := &revokedLog{}
			m2 := &notionauth.Manager{Config: e.cfg, Store: e.m.Store, Base: e.srv.Transport(),
				OnAuthRevoked: other.record, CacheTTL: time.Nanosecond}
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if i%2 == 0 {
						_, err = e.m.Client(mgrKey).Page.Get(ctx, notionapi.PageID(page))
					} else {
						_, err = e.me(mgrKey)
					}
					errs <- err
					_, err = m2.Client(mgrKey).User.Me(ctx)
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				e.leaks.err(err)
				assert.ErrorIs(t, err, notionauth.ErrAuthRevoked)
			}
			assert.Equal(t, before, e.sent(), "a revoked grant sends nothing to Notion")
			assert.Len(t, e.revoked.get(), 1, "OnAuthRevoked is not called again")
			assert.Empty(t, other.get(), "the other process did not mark it: no OnAuthRevoked there")

			// The user reconnects: a new authorization for the same key.
			tok2 := e.connectKey(t, mgrKey)
			assert.NotEqual(t, tok.AccessToken, tok2.AccessToken)
			g = e.grant(t, mgrKey)
			assert.True(t, g.Revoked.IsZero(), "reconnecting clears the mark")
			assert.Empty(t, g.RevokedReason)
			assert.Equal(t, tok2.AccessToken, g.Token.AccessToken)
			e.srv.Share(page, tok2.AccessToken) // a new bot: share again
			me, err = e.me(mgrKey)
			require.NoError(t, err)
			assert.Equal(t, e.srv.BotID(tok2.AccessToken), string(me.ID))
			_, err = e.m.Client(mgrKey).Page.Get(ctx, notionapi.PageID(page))
			require.NoError(t, err)
			_, err = m2.Client(mgrKey).User.Me(ctx)
			e.leaks.err(err)
			require.NoError(t, err, "the other process sees the reconnection")
			assert.Len(t, e.revoked.get(), 1)
			e.leaks.print(m2)
			e.finish(t)
		})
	}
}

// TestManagerConcurrentRefresh: 50 goroutines meet a 401 at once; one
// refresh serves them all.
func TestManagerConcurrentRefresh(t *testing.T) {
	t.Parallel()
	const calls = 50
	e := newMgrEnv(t, false)
	ctx := context.Background()
	tok := e.connectKey(t, mgrKey)
	_, err := e.me(mgrKey)
	require.NoError(t, err)

	e.srv.RevokeToken(tok.AccessToken) // the refresh token still works
	// Hold every request with the old token long enough for all calls to
	// be sent before the first 401 comes back.
	e.srv.Inject(notiontest.Fault{Path: "/v1/users/me", Token: tok.AccessToken, Delay: 200 * time.Millisecond, Times: calls})
	refreshes, before := e.srv.RefreshCount(), e.sent()

	start := make(chan struct{})
	var wg sync.WaitGroup
	bots := make([]string, calls)
	errs := make([]error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			u, err := e.m.Client(mgrKey).User.Me(ctx)
			if err == nil {
				bots[i] = string(u.ID)
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		e.leaks.err(err)
		require.NoError(t, err, "call %d", i)
		assert.Equal(t, e.srv.BotID(tok.AccessToken), bots[i], "call %d", i)
	}
	assert.Equal(t, 1, e.srv.RefreshCount()-refreshes, "exactly one refresh reached Notion")
	assert.Empty(t, e.revoked.get())

	g := e.grant(t, mgrKey)
	assert.NotEqual(t, tok.AccessToken, g.Token.AccessToken, "the Store holds the new access token")
	assert.NotEqual(t, tok.RefreshToken, g.Token.RefreshToken, "and the new refresh token")
	assert.True(t, g.Revoked.IsZero())
	in, err := e.cfg.Introspect(ctx, g.Token.RefreshToken)
	require.NoError(t, err)
	assert.True(t, in.Active, "the stored refresh token is the live one")

	old, fresh := notiontest.TokenHash(tok.AccessToken), notiontest.TokenHash(g.Token.AccessToken)
	var unauthorized, ok int
	for _, r := range e.srv.Requests()[before:] {
		switch {
		case r.Path == "/v1/oauth/token":
			assert.Equal(t, http.StatusOK, r.Status, "the refresh")
		case r.Path != "/v1/users/me":
			// the introspection above
		case r.Status == http.StatusUnauthorized:
			assert.Equal(t, old, r.TokenHash)
			unauthorized++
		default:
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, fresh, r.TokenHash, "every call succeeded with the new token")
			ok++
		}
	}
	assert.Equal(t, calls, ok)
	assert.Greater(t, unauthorized, 1, "several calls met the 401 together")
	t.Logf("%d of %d calls met the 401", unauthorized, calls)
	e.finish(t)
}

// Environment of TestManagerHelperProcess.
const (
	mgrHelperEnv       = "NOTIONAUTH_MANAGER_HELPER"
	mgrHelperURLEnv    = "NOTIONAUTH_MANAGER_HELPER_URL"
	mgrHelperSecretEnv = "NOTIONAUTH_MANAGER_HELPER_SECRET"
	mgrHelperPathEnv   = "NOTIONAUTH_MANAGER_HELPER_PATH"
	mgrHelperKeyEnv    = "NOTIONAUTH_MANAGER_HELPER_KEY"
	mgrHelperGrantEnv  = "NOTIONAUTH_MANAGER_HELPER_GRANT"
	mgrHelperStartEnv  = "NOTIONAUTH_MANAGER_HELPER_START"
	mgrHelperReadyEnv  = "NOTIONAUTH_MANAGER_HELPER_READY"
)

// TestManagerHelperProcess is not a test: TestManagerProcesses runs the
// test binary again with -test.run=^TestManagerHelperProcess$ and
// mgrHelperEnv set, and this function then plays one more process of the
// app: a Manager on the shared filestore.Store that makes one call.
func TestManagerHelperProcess(t *testing.T) {
	if os.Getenv(mgrHelperEnv) != "1" {
		return
	}
	key, err := hex.DecodeString(os.Getenv(mgrHelperKeyEnv))
	require.NoError(t, err)
	store, err := filestore.New(os.Getenv(mgrHelperPathEnv), key)
	require.NoError(t, err)
	u, err := url.Parse(os.Getenv(mgrHelperURLEnv))
	require.NoError(t, err)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	var revoked atomic.Int32
	m := &notionauth.Manager{
		Config: &notionauth.Config{ClientID: oauthClientID, ClientSecret: os.Getenv(mgrHelperSecretEnv),
			RedirectURL: oauthRedirect, BaseURL: u.String()},
		Store:         store,
		Base:          rewriteTo{host: u.Host, rt: base},
		OnAuthRevoked: func(context.Context, *notionauth.Error) { revoked.Add(1) },
		CacheTTL:      time.Hour, // keep the token read now: the call sends it
	}
	grantKey := os.Getenv(mgrHelperGrantEnv)

	// Read the grant, as a process that has been running a while has
	// done, then say so and start together with the other processes.
	_, err = m.TokenSource(grantKey).Token()
	require.NoError(t, err)
	ready := filepath.Join(os.Getenv(mgrHelperReadyEnv), fmt.Sprint(os.Getpid()))
	require.NoError(t, os.WriteFile(ready, nil, 0o600))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(os.Getenv(mgrHelperStartEnv)); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "never told to start")
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	me, err := m.Client(grantKey).User.Me(ctx)
	if err != nil {
		fmt.Printf("error: %v | %+v | %#v\n", err, err, err)
	}
	require.NoError(t, err)
	fmt.Printf("bot: %s\n", me.ID)
	g, err := m.Grant(ctx, grantKey)
	require.NoError(t, err)
	fmt.Printf("grant: %v | %+v | %#v | %s\n", g, g, g, *g)
	fmt.Printf("manager: %v | %+v | %#v\n", m, m, m)
	slog.New(slog.NewTextHandler(os.Stdout, nil)).Info("grant", "grant", g, "store", store)
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Info("grant", "grant", g, "manager", m)
	assert.Zero(t, revoked.Load())
}

// TestManagerProcesses: this process and two others, each with its own
// Manager on one filestore.Store, meet the 401 of the same revoked access token
// at about the same time; exactly one of them refreshes.
func TestManagerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	const procs = 2 // children; this process takes part too
	e := newMgrEnv(t, true)
	tok := e.connectKey(t, mgrKey)
	e.srv.RevokeToken(tok.AccessToken)
	// Hold the calls with the old token a while, so that their 401s come
	// back together and the processes refresh at the same time.
	e.srv.Inject(notiontest.Fault{Path: "/v1/users/me", Token: tok.AccessToken, Delay: 200 * time.Millisecond, Times: procs + 1})
	refreshes, before := e.srv.RefreshCount(), e.sent()
	start := filepath.Join(filepath.Dir(e.fs.Path), "start")
	ready := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	children := make([]*child, procs)
	for i := range children {
		c := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestManagerHelperProcess$", "-test.count=1", "-test.v")}
		c.cmd.Env = append(os.Environ(),
			mgrHelperEnv+"=1",
			mgrHelperURLEnv+"="+e.srv.URL,
			mgrHelperSecretEnv+"="+oauthSecret,
			mgrHelperPathEnv+"="+e.fs.Path,
			mgrHelperKeyEnv+"="+hex.EncodeToString(e.fs.EncryptionKey),
			mgrHelperGrantEnv+"="+mgrKey,
			mgrHelperStartEnv+"="+start,
			mgrHelperReadyEnv+"="+ready,
		)
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
		require.NoError(t, c.cmd.Start())
		children[i] = c
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		entries, err := os.ReadDir(ready)
		require.NoError(t, err)
		if len(entries) == procs {
			break
		}
		require.True(t, time.Now().Before(deadline), "the children never got ready")
	}
	require.NoError(t, os.WriteFile(start, nil, 0o600))
	me, err := e.me(mgrKey) // this process's Manager still holds the old token
	require.NoError(t, err)
	bot := e.srv.BotID(tok.AccessToken)
	assert.Equal(t, bot, string(me.ID))
	for i, c := range children {
		err := c.cmd.Wait()
		out := c.out.String()
		require.NoError(t, err, "child %d:\n%s", i, out)
		require.Contains(t, out, "--- PASS: TestManagerHelperProcess", "child %d made no call:\n%s", i, out)
		assert.Contains(t, out, "bot: "+bot, "child %d", i)
		e.leaks.add(out)
	}

	assert.Equal(t, 1, e.srv.RefreshCount()-refreshes, "exactly one refresh across the processes")
	var invalidGrant, calls401, calls200 int
	for _, r := range e.srv.Requests()[before:] {
		switch {
		case r.Path == "/v1/oauth/token" && r.Status == http.StatusBadRequest:
			invalidGrant++
		case r.Path == "/v1/users/me" && r.Status == http.StatusUnauthorized:
			calls401++
		case r.Path == "/v1/users/me" && r.Status == http.StatusOK:
			calls200++
		}
	}
	assert.Zero(t, invalidGrant, "no process reused a rotated refresh token")
	assert.Equal(t, procs+1, calls200, "every process's call succeeded")
	assert.GreaterOrEqual(t, calls401, procs, "every child sent the old token and met the 401")
	t.Logf("%d of %d processes met the 401", calls401, procs+1)
	g := e.grant(t, mgrKey)
	assert.NotEqual(t, tok.AccessToken, g.Token.AccessToken)
	assert.NotEqual(t, tok.RefreshToken, g.Token.RefreshToken)
	assert.True(t, g.Revoked.IsZero())
	assert.Empty(t, e.revoked.get())
	e.finish(t)
}

// TestManagerLostRefreshAnswer: Notion rotates but its answer is lost.
// The call fails as Unavailable and the grant keeps its old pair; the old
// access token may go on working; the next refresh, with the spent
// refresh token, gets invalid_grant and the grant is reported revoked
// once. Nothing loops.
func TestManagerLostRefreshAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		revokeAccess bool // the 401 is real (else a spurious one, the token still works)
		killFamily   bool // reusing the spent refresh token kills the whole grant
	}{
		{name: "old access token still accepted"},
		{name: "old access token accepted, family killed on reuse", killFamily: true},
		{name: "old access token revoked", revokeAccess: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newMgrEnv(t, false)
			e.srv.KillFamilyOnReuse(tc.killFamily)
			tok := e.connectKey(t, mgrKey)
			unauthorized := func() {
				if tc.revokeAccess {
					e.srv.RevokeToken(tok.AccessToken)
				} else {
					f := notiontest.SpuriousUnauthorized()
					f.Path, f.Token = "/v1/users/me", tok.AccessToken
					e.srv.Inject(f)
				}
			}

			// The refresh's answer is lost.
			unauthorized()
			e.srv.DropNextRefreshResponse()
			refreshes, before := e.srv.RefreshCount(), e.sent()
			_, err := e.me(mgrKey)
			require.Error(t, err)
			assert.Equal(t, notionauth.Unavailable, notionauth.KindOf(err), "%v", err)
			assert.ErrorIs(t, err, notionauth.ErrUnavailable)
			assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked, "nothing is known: not revoked")
			var ne *notionauth.Error
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, notionauth.ReasonUnconfirmed, ne.Reason)
			assert.Empty(t, e.revoked.get())
			assert.Equal(t, 1, e.srv.RefreshCount()-refreshes)
			got := e.srv.Requests()[before:]
			require.Len(t, got, 2, "the 401 and the refresh, nothing more")
			assert.Equal(t, "/v1/users/me", got[0].Path)
			assert.Equal(t, "/v1/oauth/token", got[1].Path)

			g := e.grant(t, mgrKey)
			assert.Equal(t, tok.AccessToken, g.Token.AccessToken, "nothing stored: the old pair stays")
			assert.Equal(t, tok.RefreshToken, g.Token.RefreshToken)
			assert.True(t, g.Revoked.IsZero())
			assert.Equal(t, int64(1), g.Version)

			if !tc.revokeAccess {
				// Notion still accepts the old access token: the grant
				// lives on, with no refresh.
				for range 3 {
					_, err := e.me(mgrKey)
					require.NoError(t, err)
				}
				assert.Equal(t, 1, e.srv.RefreshCount()-refreshes)
				assert.Empty(t, e.revoked.get())
				unauthorized() // the next 401, whatever its cause
			}

			// The next refresh, with the spent refresh token: invalid_grant.
			before = e.sent()
			_, err = e.me(mgrKey)
			require.ErrorIs(t, err, notionauth.ErrAuthRevoked)
			assert.Equal(t, []revokedCall{{mgrKey, notionauth.CodeInvalidGrant}}, e.revoked.get())
			assert.Equal(t, 2, e.srv.RefreshCount()-refreshes)
			got = e.srv.Requests()[before:]
			require.Len(t, got, 2, "the 401 and the refresh, nothing more")
			assert.Equal(t, http.StatusBadRequest, got[1].Status)
			g = e.grant(t, mgrKey)
			assert.False(t, g.Revoked.IsZero())
			assert.Equal(t, notionauth.CodeInvalidGrant, g.RevokedReason)

			// Never a loop: later calls fail at once and send nothing.
			before = e.sent()
			for range 5 {
				_, err := e.me(mgrKey)
				assert.ErrorIs(t, err, notionauth.ErrAuthRevoked)
			}
			assert.Equal(t, before, e.sent())
			assert.Equal(t, 2, e.srv.RefreshCount()-refreshes)
			assert.Len(t, e.revoked.get(), 1, "reported once")

			want := http.StatusOK
			if tc.killFamily || tc.revokeAccess {
				want = http.StatusUnauthorized
			}
			assert.Equal(t, want, e.getMe(t, tok.AccessToken), "what Notion now says of the old access token")
			e.finish(t)
		})
	}
}

// TestManagerHandleCallbackRejects: HandleCallback stores nothing for a
// forged, expired, replayed or foreign state, nor for a cancellation.
func TestManagerHandleCallbackRejects(t *testing.T) {
	t.Parallel()
	otherKey := []byte("another 32-byte key, not the app's own state key")
	cases := []struct {
		name    string
		prepare func(t *testing.T, e *mgrEnv) (*http.Request, string) // the callback and the session
		reason  string                                                // StateError reason; "": a cancellation
	}{
		{"forged", func(t *testing.T, e *mgrEnv) (*http.Request, string) {
			other := &notionauth.Config{ClientID: oauthClientID, StateKey: otherKey}
			state, err := other.NewState(testSession)
			require.NoError(t, err)
			return callback(e.open(t, e.cfg.AuthCodeURL(state))), testSession
		}, notionauth.StateForged},
		{"not a state", func(t *testing.T, e *mgrEnv) (*http.Request, string) {
			return callback(e.open(t, e.cfg.AuthCodeURL("made-up"))), testSession
		}, notionauth.StateMalformed},
		{"expired", func(t *testing.T, e *mgrEnv) (*http.Request, string) {
			loc := e.authorize(t, testSession)
			e.clock.Advance(notionauth.DefaultStateTTL + time.Second)
			return callback(loc), testSession
		}, notionauth.StateExpired},
		{"another session", func(t *testing.T, e *mgrEnv) (*http.Request, string) {
			return callback(e.authorize(t, testSession)), "session-of-mallory"
		}, notionauth.StateSession},
		{"access denied", func(t *testing.T, e *mgrEnv) (*http.Request, string) {
			e.srv.DenyAuthorizations(true)
			return callback(e.authorize(t, testSession)), testSession
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newMgrEnv(t, false)
			req, session := tc.prepare(t, e)
			tok, err := e.m.HandleCallback(context.Background(), mgrKey, req, session)
			e.leaks.err(err)
			require.Error(t, err)
			assert.Nil(t, tok)
			if tc.reason == "" {
				assert.ErrorIs(t, err, notionauth.ErrUserCancelled)
				assert.NotErrorIs(t, err, notionauth.ErrStateInvalid)
			} else {
				var se *notionauth.StateError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.reason, se.Reason)
				assert.NotErrorIs(t, err, notionauth.ErrUserCancelled)
			}
			assert.Zero(t, e.srv.Count(http.MethodPost, "/v1/oauth/token"), "no code was exchanged")
			_, err = e.m.Grant(context.Background(), mgrKey)
			assert.ErrorIs(t, err, notionauth.ErrGrantNotFound, "nothing stored")
			e.leaks.check(t)
		})
	}

	t.Run("replayed", func(t *testing.T) {
		t.Parallel()
		e := newMgrEnv(t, false)
		req := callback(e.authorize(t, testSession))
		tok, err := e.m.HandleCallback(context.Background(), mgrKey, req, testSession)
		require.NoError(t, err)
		e.leaks.token(tok)
		again, err := e.m.HandleCallback(context.Background(), mgrKey, req, testSession)
		e.leaks.err(err)
		assert.Nil(t, again)
		var se *notionauth.StateError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, notionauth.StateReplayed, se.Reason)
		assert.Equal(t, 1, e.srv.Count(http.MethodPost, "/v1/oauth/token"), "the code was exchanged once")
		g := e.grant(t, mgrKey)
		assert.Equal(t, tok.AccessToken, g.Token.AccessToken, "the grant is untouched")
		assert.Equal(t, int64(1), g.Version)
		e.finish(t)
	})
}

// TestManagerDisconnect: an app-side disconnect revokes the token at
// Notion and deletes the grant; the key then fails clearly.
func TestManagerDisconnect(t *testing.T) {
	t.Parallel()
	e := newMgrEnv(t, false)
	ctx := context.Background()
	tok := e.connectKey(t, mgrKey)
	_, err := e.me(mgrKey)
	require.NoError(t, err)

	require.NoError(t, e.m.Disconnect(ctx, mgrKey))
	assert.Equal(t, 2, e.srv.Count(http.MethodPost, "/v1/oauth/revoke"), "the access token and the refresh token")
	assert.Equal(t, http.StatusUnauthorized, e.getMe(t, tok.AccessToken), "revoked at Notion")
	_, err = e.cfg.Refresh(ctx, tok.RefreshToken)
	assert.ErrorIs(t, err, notionauth.ErrAuthRevoked, "the refresh token too")
	_, err = e.m.Grant(ctx, mgrKey)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound, "deleted")

	_, err = e.m.TokenSource(mgrKey).Token()
	e.leaks.err(err)
	require.Error(t, err)
	assert.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	before := e.sent()
	_, err = e.me(mgrKey)
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	assert.Contains(t, err.Error(), "connect first")
	assert.Equal(t, before, e.sent(), "nothing sent without a grant")

	require.NoError(t, e.m.Disconnect(ctx, mgrKey), "disconnecting twice is fine")
	assert.Equal(t, 2, e.srv.Count(http.MethodPost, "/v1/oauth/revoke"))
	assert.Empty(t, e.revoked.get(), "an app-side disconnect is not a revocation")

	// A grant already revoked is deleted without asking Notion.
	e.connectKey(t, mgrKey)
	_, err = notionauth.MarkRevoked(ctx, e.m.Store, mgrKey, notionauth.CodeUnauthorized, time.Time{})
	require.NoError(t, err)
	require.NoError(t, e.m.Disconnect(ctx, mgrKey))
	assert.Equal(t, 2, e.srv.Count(http.MethodPost, "/v1/oauth/revoke"))
	_, err = e.m.Grant(ctx, mgrKey)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)

	// Connect after Disconnect works.
	tok = e.connectKey(t, mgrKey)
	me, err := e.me(mgrKey)
	require.NoError(t, err)
	assert.Equal(t, e.srv.BotID(tok.AccessToken), string(me.ID))
	e.finish(t)
}

// TestManagerMisuse: a key without a grant, Connect without a token and a
// Manager with nothing set fail with clear errors, never a panic.
func TestManagerMisuse(t *testing.T) {
	t.Parallel()
	e := newMgrEnv(t, false)
	ctx := context.Background()

	_, err := e.me("nobody")
	e.leaks.err(err)
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	assert.Contains(t, err.Error(), "connect first")
	_, err = e.m.Grant(ctx, "nobody")
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	r, ok := e.m.TokenSource("nobody").(notionauth.Refresher)
	require.True(t, ok, "the Manager's TokenSource is a Refresher")
	_, err = r.Refresh(ctx, &oauth2.Token{AccessToken: "ntn_unknown0123456789"})
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	_, err = r.Refresh(ctx, nil)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound, "a nil token is no panic")
	require.NoError(t, e.m.Disconnect(ctx, "nobody"), "nothing to disconnect")
	assert.Empty(t, e.srv.Requests(), "nothing was sent")

	err = e.m.Connect(ctx, mgrKey, nil)
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	err = e.m.Connect(ctx, mgrKey, &notionauth.Token{RefreshToken: "nrt_no_access_token_here"})
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	_, err = e.m.Grant(ctx, mgrKey)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound, "nothing stored")
	assert.Error(t, e.m.Connect(ctx, "", &notionauth.Token{AccessToken: "ntn_for_no_key_0123456789"}), "the empty key")
	_, err = e.m.HandleCallback(ctx, mgrKey, nil, testSession)
	assert.Error(t, err)

	// The zero Manager: a MemoryStore, no Config.
	var zero notionauth.Manager
	_, err = zero.Client("nobody").User.Me(ctx)
	assert.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	_, err = zero.HandleCallback(ctx, mgrKey, httptest.NewRequest(http.MethodGet, oauthRedirect+"?code=c&state=s", nil), testSession)
	assert.Error(t, err)
	tok := &notionauth.Token{AccessToken: "ntn_static_token_0123456789"}
	require.NoError(t, zero.Connect(ctx, mgrKey, tok))
	tok.AccessToken = "ntn_changed_after_connect_0123"
	g, err := zero.Grant(ctx, mgrKey)
	require.NoError(t, err)
	assert.Equal(t, "ntn_static_token_0123456789", g.Token.AccessToken, "Connect keeps its own copy")
	require.NoError(t, zero.Disconnect(ctx, mgrKey), "no Config: deleted without revoking")
	_, err = zero.Grant(ctx, mgrKey)
	assert.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	e.finish(t)
}

// gatedStore holds every Update, once armed, until release is closed, and
// tells entered when one starts waiting.
type gatedStore struct {
	notionauth.Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *gatedStore) Update(ctx context.Context, key string, fn func(*notionauth.Grant) (*notionauth.Grant, error)) (*notionauth.Grant, error) {
	if s.armed.Load() {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.Update(ctx, key, fn)
}

// TestManagerRefreshNeverReturnsRejected: a Refresh for the current token
// that comes while a Refresh for an older token is under way must not be
// answered with the very token it rejected (which would send the
// Transport to confirm, and report revoked, a grant whose refresh token
// works).
func TestManagerRefreshNeverReturnsRejected(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{Store: &notionauth.MemoryStore{}, entered: make(chan struct{}, 4), release: make(chan struct{})}
	e := newMgrEnvStore(t, gs)
	ctx := context.Background()
	tok1 := e.connectKey(t, mgrKey)

	// Another process rotated the grant; then Notion lost the new access
	// token, but its refresh token works.
	tok2, err := e.cfg.Refresh(ctx, tok1.RefreshToken)
	require.NoError(t, err)
	e.leaks.token(tok2)
	_, err = gs.Store.Update(ctx, mgrKey, func(g *notionauth.Grant) (*notionauth.Grant, error) {
		g.Token = tok2
		return g, nil
	})
	require.NoError(t, err)
	e.srv.RevokeToken(tok2.AccessToken)
	refreshes := e.srv.RefreshCount()

	r, ok := e.m.TokenSource(mgrKey).(notionauth.Refresher)
	require.True(t, ok)
	type result struct {
		tok *oauth2.Token
		err error
	}
	refresh := func(rejected string) <-chan result {
		ch := make(chan result, 1)
		go func() {
			tok, err := r.Refresh(ctx, &oauth2.Token{AccessToken: rejected})
			ch <- result{tok, err}
		}()
		return ch
	}
	gs.armed.Store(true)
	a := refresh(tok1.AccessToken) // a goroutine that still held the old token
	<-gs.entered
	b := refresh(tok2.AccessToken) // a goroutine with the current one
	// b either starts a refresh of its own (and waits for the Store too)
	// or joins a's: give it the time to do either.
	select {
	case <-gs.entered:
	case <-time.After(200 * time.Millisecond):
	}
	close(gs.release)
	ra, rb := <-a, <-b
	e.leaks.err(ra.err)
	e.leaks.err(rb.err)

	require.NoError(t, ra.err)
	assert.NotEqual(t, tok1.AccessToken, ra.tok.AccessToken, "a gets another token")
	require.NoError(t, rb.err)
	assert.NotEqual(t, tok2.AccessToken, rb.tok.AccessToken, "b must not get back the token it rejected")
	assert.Equal(t, 1, e.srv.RefreshCount()-refreshes, "one refresh: b's")
	g := e.grant(t, mgrKey)
	assert.Equal(t, rb.tok.AccessToken, g.Token.AccessToken)
	assert.True(t, g.Revoked.IsZero())
	assert.Empty(t, e.revoked.get())
	e.finish(t)
}

// TestManagerGrantWithoutToken: a Store may keep a grant whose Token is
// nil (see Grant); the Manager reports it, never panics.
func TestManagerGrantWithoutToken(t *testing.T) {
	t.Parallel()
	e := newMgrEnv(t, false)
	ctx := context.Background()
	tok := e.connectKey(t, mgrKey)
	_, err := e.m.Store.Update(ctx, mgrKey, func(g *notionauth.Grant) (*notionauth.Grant, error) {
		g.Token = nil
		return g, nil
	})
	require.NoError(t, err)

	r := e.m.TokenSource(mgrKey).(notionauth.Refresher)
	_, err = r.Refresh(ctx, &oauth2.Token{AccessToken: tok.AccessToken})
	e.leaks.err(err)
	require.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked)
	assert.Empty(t, e.revoked.get())

	m2 := &notionauth.Manager{Config: e.cfg, Store: e.m.Store, Base: e.srv.Transport()}
	before := e.sent()
	_, err = m2.Client(mgrKey).User.Me(ctx)
	e.leaks.err(err)
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	assert.Equal(t, before, e.sent(), "nothing to send")
	require.NoError(t, e.m.Disconnect(ctx, mgrKey))
	e.leaks.check(t)
}

// TestManagerAdoptedTokenAlsoLost: this process still holds T1 (lost at
// Notion); another process has rotated the grant to T2 and Notion has
// lost T2 too, but the grant's refresh token R2 works. The call must end
// with a refresh, not with the grant reported revoked.
func TestManagerAdoptedTokenAlsoLost(t *testing.T) {
	t.Parallel()
	e := newMgrEnv(t, false)
	ctx := context.Background()
	tok1 := e.connectKey(t, mgrKey) // this Manager now holds T1
	tok2, err := e.cfg.Refresh(ctx, tok1.RefreshToken)
	require.NoError(t, err)
	e.leaks.token(tok2)
	_, err = e.m.Store.Update(ctx, mgrKey, func(g *notionauth.Grant) (*notionauth.Grant, error) {
		g.Token = tok2 // the other process stored its new pair
		return g, nil
	})
	require.NoError(t, err)
	e.srv.RevokeToken(tok1.AccessToken)
	e.srv.RevokeToken(tok2.AccessToken)
	refreshes := e.srv.RefreshCount()

	me, err := e.me(mgrKey)
	require.NoError(t, err, "R2 still works: refresh, do not report the grant revoked")
	assert.Equal(t, e.srv.BotID(tok1.AccessToken), string(me.ID))
	assert.Empty(t, e.revoked.get())
	assert.Equal(t, 1, e.srv.RefreshCount()-refreshes)
	g := e.grant(t, mgrKey)
	assert.True(t, g.Revoked.IsZero())
	assert.NotEqual(t, tok2.AccessToken, g.Token.AccessToken)
	e.finish(t)
}
