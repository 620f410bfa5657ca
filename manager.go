package notionauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jomei/notionapi"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Refresher is a TokenSource that can replace a token Notion rejected. A
// [Transport] whose Source is a Refresher calls Refresh on a 401 before it
// considers the token lost, and sends the request once more with the new
// token (asking once more if that token meets a 401 too).
//
// Like any oauth2.TokenSource it hands out *oauth2.Token values, which
// print their tokens in the clear: never log them.
type Refresher interface {
	oauth2.TokenSource
	// Refresh returns a token other than rejected: a refreshed one, or one
	// another goroutine or process already stored. It returns
	// ErrNoRefreshToken when it cannot refresh (the Transport then confirms
	// the 401 itself), an *Error of Kind AuthRevoked when the grant is gone,
	// and any other error when the refresh failed for now.
	Refresh(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error)
}

// ErrNoRefreshToken is returned by [Refresher.Refresh] when the grant has no
// refresh token to use.
var ErrNoRefreshToken = errors.New("notionauth: no refresh token")

// Defaults of [Manager].
const (
	// DefaultCacheTTL is how long a Manager trusts the grant it read from
	// its Store before reading it again, so that a grant rotated or
	// revoked by another process is seen without a request to Notion.
	DefaultCacheTTL = 10 * time.Second
	// DefaultKeyIdle is how long a key may go unused before the Manager
	// forgets what it holds for it (the grant it read, the token ready to
	// send); its next call reads the Store again.
	DefaultKeyIdle = 10 * time.Minute
)

// Manager runs the lifecycle of many grants, each under the app's own key
// (a workspace, a user): it stores new grants, gives a ready client per key,
// refreshes rotating tokens exactly once (in the process with singleflight,
// across processes through the Store's atomic update), marks lost grants
// revoked in the Store so that every process fails fast, and calls
// OnAuthRevoked once per lost grant.
//
// Set the fields, then use it. Every field is read once, at first use, and
// changing one afterwards has no effect. A Manager is safe for concurrent
// use; use it through a pointer.
//
// # One Transport
//
// Every key's calls go through one [Transport] of the Manager's, made from
// its Base, Retry, Pacing, Clock, OnEvent and Logger, so that what it
// learns of a token's budget is shared and a key costs a few hundred bytes.
// The Manager's refreshes, introspections and revocations go through it
// too (unless Config.HTTPClient is set), so that a proxy or tracing layer
// in Base sees them. Its Stats cover every key. Errors and events of a
// key's calls carry the key in Error.Key and Event.Key.
//
// A key unused for DefaultKeyIdle is forgotten; so is a disconnected one.
// Its next call reads the Store again.
//
// # The workspace's limit
//
// A 429 whose rate_limit_reason is the workspace's
// (public_api_space_request_rate_limit) pauses every grant of that
// workspace (Token.WorkspaceID) the Manager holds, not only the one that
// met it; any other 429 pauses that grant's token alone.
//
// # Refresh and rotation
//
// On a 401 the Transport asks the Manager for another token. The Manager
// reads the Store under the key's lock: if the stored token is no longer
// the rejected one, another goroutine or process already rotated it and it
// is adopted as is; otherwise the refresh token is traded for a new pair,
// which is stored before anyone uses it. Notion's invalid_grant means the
// grant is gone: it is marked revoked. A grant without a refresh token is
// left to the Transport's confirm-before-revoke probe.
//
// A refresh whose answer is lost (the connection dies after Notion rotated)
// stores nothing: the call fails as Unavailable and the grant keeps its old
// pair. Notion may still accept the old access token, and the grant lives
// on; the next refresh with the old refresh token gets invalid_grant if
// Notion did rotate, and the grant is then reported revoked, once. It is
// never retried in a loop.
type Manager struct {
	// Config is the OAuth client: needed to refresh, connect and revoke.
	Config *Config
	// Store keeps the grants. nil means a MemoryStore (one process only).
	Store Store
	// Base sends every request: API calls and the token endpoints' (unless
	// Config.HTTPClient is set). nil means a connection pool of the
	// Manager's own; see [Transport].
	Base http.RoundTripper
	// Retry and Pacing are the Transport's; see [RetryPolicy], [Pacing].
	Retry  RetryPolicy
	Pacing Pacing
	// Clock is where the Manager and its Transport read the time. nil
	// means the system clock.
	Clock Clock
	// OnAuthRevoked, if set, is called once per grant found lost (a 401
	// the probe confirmed, or invalid_grant from the token endpoint), by
	// the process that marked it revoked in the Store. err.Key is the
	// grant's key, err.Code why ("unauthorized", "invalid_grant"). It has
	// the shape of Transport.OnAuthRevoked.
	OnAuthRevoked func(ctx context.Context, err *Error)
	// OnEvent and Logger are the Transport's: see [Transport]. Events carry
	// the key in Event.Key.
	OnEvent func(Event)
	Logger  *slog.Logger
	// CacheTTL is how long a grant read from the Store is trusted. 0 means
	// DefaultCacheTTL.
	CacheTTL time.Duration

	once    sync.Once
	tr      *Transport
	cfg     *stackConfig // Config, on the Manager's HTTP stack
	store   Store
	clock   Clock
	ttl     int64
	seed    maphash.Seed
	keys    table[string, *grantSource]
	flights singleflight.Group // keyed by grant key and rejected token; the Store's lock serialises them
}

func (m *Manager) init() {
	m.once.Do(func() {
		m.store = m.Store
		if m.store == nil {
			m.store = &MemoryStore{}
		}
		m.clock = m.Clock
		if m.clock == nil {
			m.clock = systemClock{}
		}
		m.ttl = int64(orDefault(m.CacheTTL, DefaultCacheTTL))
		m.seed = maphash.MakeSeed()
		m.tr = &Transport{Base: m.Base, Retry: m.Retry, Pacing: m.Pacing, Clock: m.clock,
			OnEvent: m.OnEvent, Logger: m.Logger}
		m.tr.state()
		if m.Config != nil {
			cfg := *m.Config
			if cfg.HTTPClient == nil {
				cfg.HTTPClient = &http.Client{Transport: m.tr}
			}
			m.cfg = &stackConfig{&cfg}
		}
	})
}

// now is the time on the Manager's clock, in nanoseconds since its
// Transport's epoch.
func (m *Manager) now() int64 {
	if cfg := m.tr.st.pace; cfg != nil {
		return cfg.now()
	}
	return m.clock.Now().UnixNano()
}

// source returns the key's grant source, made on first use.
func (m *Manager) source(key string) *grantSource {
	m.init()
	h := maphash.String(m.seed, key)
	if s, ok := m.keys.lookup(h, key); ok {
		return s
	}
	return m.keys.insert(h, key, m.now(), int64(DefaultKeyIdle), func() *grantSource {
		return &grantSource{m: m, key: key}
	})
}

// forget drops what the Manager holds for key.
func (m *Manager) forget(key string) {
	m.init()
	m.keys.forget(maphash.String(m.seed, key), key)
}

// String describes m on one line: its Config (secrets redacted), the kind
// of its Store and its CacheTTL. It never reads m's internals, which other
// goroutines may be changing, nor any grant.
func (m *Manager) String() string {
	if m == nil {
		return "<nil>"
	}
	cfg := "<nil>"
	if m.Config != nil {
		cfg = m.Config.String()
	}
	store := "<nil> (MemoryStore)"
	if m.Store != nil {
		store = fmt.Sprintf("%T", m.Store)
	}
	return "notionauth.Manager{Config: " + cfg + ", Store: " + store + ", CacheTTL: " + m.CacheTTL.String() + "}"
}

// GoString is String, so that %#v is as safe.
func (m *Manager) GoString() string { return m.String() }

// Format prints m as String does for every verb.
func (m *Manager) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, m.String()) }

// TokenSource returns the key's token source. It is also a [Refresher].
// The source itself prints only its key; the *oauth2.Token values it hands
// out are golang.org/x/oauth2's, which print both tokens in the clear in
// every fmt verb and in JSON: never log them ([Manager.Grant] gives the
// grant as a [Token], which redacts them).
func (m *Manager) TokenSource(key string) oauth2.TokenSource { return m.source(key) }

// Transport returns the RoundTripper of key's calls: the Manager's
// Transport, sending key's token.
func (m *Manager) Transport(key string) http.RoundTripper { return m.source(key) }

// Client returns a notionapi client for key, as [NewClient] makes one.
func (m *Manager) Client(key string, opts ...notionapi.ClientOption) *notionapi.Client {
	all := make([]notionapi.ClientOption, 0, len(opts)+2)
	all = append(all, opts...)
	all = append(all, notionapi.WithHTTPClient(&http.Client{Transport: m.source(key)}), notionapi.WithRetry(1))
	return notionapi.NewClient("", all...)
}

// Stats returns the counters of the Manager's Transport: every key's calls.
func (m *Manager) Stats() Stats {
	m.init()
	return m.tr.Stats()
}

// ClearPause ends the pause of key's token and of its workspace, if one
// is in force; see [Transport.ClearPause].
func (m *Manager) ClearPause(key string) error {
	b, e := m.source(key).bearer(0)
	if e != nil {
		return e
	}
	m.tr.ClearPause(b.token())
	if b.ws != nil {
		b.ws.clear()
	}
	return nil
}

// Grant returns what the Store holds for key.
func (m *Manager) Grant(ctx context.Context, key string) (*Grant, error) {
	m.init()
	return m.store.Get(ctx, key)
}

// Connect stores tok as key's grant, replacing any earlier one and
// clearing a revoked mark: this is how a user reconnects.
func (m *Manager) Connect(ctx context.Context, key string, tok *Token) error {
	if tok == nil || tok.AccessToken == "" {
		return &Error{Kind: InvalidRequest, Message: "Connect needs a token", Key: key}
	}
	m.init()
	g, err := m.store.Update(ctx, key, func(*Grant) (*Grant, error) {
		t := *tok
		return &Grant{Key: key, Token: &t}, nil
	})
	if err != nil {
		return err
	}
	m.source(key).remember(g)
	return nil
}

// HandleCallback completes an authorization (see [Config.HandleCallback])
// and stores the grant under key.
func (m *Manager) HandleCallback(ctx context.Context, key string, r *http.Request, session string) (*Token, error) {
	m.init()
	if m.cfg == nil {
		return nil, configError("", "Manager.HandleCallback needs a Config")
	}
	// The state is the Config's own (it remembers used states); the
	// exchange goes through the Manager's stack.
	code, err := m.Config.callbackCode(ctx, r, session)
	if err != nil {
		return nil, err
	}
	tok, err := m.cfg.Exchange(ctx, code)
	if err != nil {
		return nil, err
	}
	return tok, m.Connect(ctx, key, tok)
}

// Disconnect ends key's grant: it revokes the access token and the
// refresh token at Notion (Notion does not say that revoking one ends the
// other), then deletes the grant. A token Notion no longer knows counts as
// revoked. If Notion cannot be reached, or refuses for another reason, the
// grant is kept, nothing is deleted, and the error says why, so that the
// app can try again. A grant already marked revoked is only deleted, and so
// is every grant of a Manager without a Config, which cannot revoke.
func (m *Manager) Disconnect(ctx context.Context, key string) error {
	m.init()
	g, err := m.store.Get(ctx, key)
	if errors.Is(err, ErrGrantNotFound) {
		m.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if g.Revoked.IsZero() && g.Token != nil && m.cfg != nil {
		for _, tok := range [...]string{g.Token.AccessToken, g.Token.RefreshToken} {
			if tok == "" {
				continue
			}
			if err := m.cfg.Revoke(ctx, tok); err != nil && KindOf(err) != AuthRevoked {
				e := keyError(key, "the grant is kept: Notion did not confirm its revocation; try again", err)
				var pe *Error
				if errors.As(err, &pe) {
					c := *pe
					c.Key, c.Message = key, joinMessage(e.Message, pe.summary())
					e = &c
				}
				return e
			}
		}
	}
	if err := m.store.Delete(ctx, key); err != nil {
		return err
	}
	m.forget(key)
	return nil
}

// markRevoked marks key's grant revoked, if it still holds the access
// token found lost (a reconnect may have replaced it meanwhile), and calls
// OnAuthRevoked if this call is the one that marked it.
func (m *Manager) markRevoked(ctx context.Context, key, token string, e *Error) {
	marked := false
	g, err := m.store.Update(ctx, key, func(g *Grant) (*Grant, error) {
		if g == nil || !g.Revoked.IsZero() || g.Token == nil || g.Token.AccessToken != token {
			return nil, errUnchanged
		}
		g.Revoked, g.RevokedReason, marked = m.clock.Now(), identifier(e.Code), true
		if g.RevokedReason == "" {
			g.RevokedReason = CodeUnauthorized
		}
		return g, nil
	})
	if err == nil {
		m.source(key).remember(g)
	}
	if marked && m.OnAuthRevoked != nil {
		seen := *e
		seen.Key = key
		m.OnAuthRevoked(ctx, &seen)
	}
}

// stackConfig holds the Manager's copy of its Config one pointer further
// away: fmt dereferences an unexported *Config that it prints with %s, %q,
// %x or %d (a Manager held by value in the app's struct), and would print
// the client secret field by field.
type stackConfig struct{ *Config }

// errUnchanged ends an Update that has nothing to store.
var errUnchanged = errors.New("notionauth: unchanged")

// grantSource is one key of a Manager: its TokenSource and Refresher, the
// RoundTripper of its calls, and what the Manager holds for it.
type grantSource struct {
	m    *Manager
	key  string
	used atomic.Int64 // last use, on m's clock, to the second
	read atomic.Int64 // when cur was read from the Store; 0: never
	cur  atomic.Pointer[grantState]
}

// grantState is what a key's grant was when last read: its token ready to
// send, or why there is none. It is never modified.
type grantState struct {
	b   *bearer // &tok, or nil when there is no token to send
	tok bearer
	err *Error // why there is none: revoked, not found, no token
}

// String names the source by its key only: printing it never reads the
// grant or the Manager's state, which other goroutines may be changing.
func (s *grantSource) String() string {
	return "notionauth.Manager.Transport(" + strconv.Quote(s.key) + ")"
}

// Format prints s as String does for every verb.
func (s *grantSource) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// RoundTrip sends req with the key's token, through the Manager's
// Transport; see [Transport].
func (s *grantSource) RoundTrip(req *http.Request) (*http.Response, error) {
	return s.m.tr.roundTrip(req, s)
}

func (s *grantSource) name() string { return s.key }

func (s *grantSource) idle(now int64) bool { return now-s.used.Load() > int64(DefaultKeyIdle) }

func (s *grantSource) forgotten() {}

// remember makes g, just read or written, what the key holds.
func (s *grantSource) remember(g *Grant) {
	s.cur.Store(s.state(g))
	s.read.Store(s.m.now())
}

// state is what the key holds for g (nil: no grant).
func (s *grantSource) state(g *Grant) *grantState {
	switch {
	case g == nil:
		return &grantState{err: &Error{Kind: InvalidRequest, Key: s.key,
			Message: "no grant stored for this key: connect first", Err: ErrGrantNotFound}}
	case !g.Revoked.IsZero():
		return &grantState{err: revokedGrant(g, s.key)}
	case g.Token == nil || g.Token.AccessToken == "":
		return &grantState{err: &Error{Kind: InvalidRequest, Key: s.key, Message: "the grant stored for this key has no token",
			Err: ErrGrantNotFound}}
	}
	tok := g.Token.AccessToken
	if cur := s.cur.Load(); cur != nil && cur.b != nil && cur.b.token() == tok && (cur.b.pace == nil || !cur.b.pace.dead.Load()) {
		return cur // the same token: keep its bearer
	}
	if msg := tokenProblem(tok); msg != "" {
		return &grantState{err: &Error{Kind: InvalidRequest, Key: s.key, Message: "the grant's token: " + msg}}
	}
	st := s.m.tr.st
	gs := &grantState{tok: *st.newBearer(tok, maphash.String(st.seed, tok))}
	gs.b = &gs.tok
	if ws := g.Token.WorkspaceID; ws != "" && st.pace != nil {
		gs.tok.ws = st.pacers.get(maphash.String(st.seed, "workspace\x00"+ws))
	}
	return gs
}

// bearer returns the key's token, ready to send: from what the key holds
// while it is fresh, else read again from the Store.
func (s *grantSource) bearer(now int64) (*bearer, *Error) {
	if now == 0 {
		now = s.m.now()
	}
	if now-s.used.Load() > int64(time.Second) {
		s.used.Store(now)
	}
	cur := s.cur.Load()
	if cur == nil || now-s.read.Load() > s.m.ttl || cur.b != nil && cur.b.pace != nil && cur.b.pace.dead.Load() {
		var e *Error
		if cur, e = s.load(cur); e != nil {
			return nil, e
		}
	}
	if cur.err != nil {
		e := *cur.err
		return nil, &e
	}
	return cur.b, nil
}

// load reads the key's grant from the Store, once for all the calls that
// find what the key holds stale. A failing Store fails the call with the
// Kind of its failure, and never stands for a missing or revoked grant.
func (s *grantSource) load(stale *grantState) (*grantState, *Error) {
	ch := s.m.flights.DoChan("load\x00"+s.key, func() (any, error) {
		if cur := s.cur.Load(); cur != stale && cur != nil {
			return cur, nil // read meanwhile
		}
		ctx, cancel := context.WithDeadline(context.Background(), s.m.clock.Now().Add(probeTimeout))
		defer cancel()
		g, err := s.m.store.Get(ctx, s.key)
		if err != nil && !errors.Is(err, ErrGrantNotFound) {
			return nil, keyError(s.key, "cannot read the grant", err)
		}
		s.remember(g)
		return s.cur.Load(), nil
	})
	if stale != nil && stale.b != nil {
		// Whoever reads it, this call need not wait: the token the Store
		// gave last is still good to send (and is kept when the Store
		// fails).
		return stale, nil
	}
	r := <-ch
	if r.Err != nil {
		return nil, r.Err.(*Error)
	}
	return r.Val.(*grantState), nil
}

// keyError is the error of a Manager call that failed because err did: of
// err's Kind (Unavailable for a server or disk that fails,
// InvalidRequest for a setup to fix), never AuthRevoked.
func keyError(key, msg string, err error) *Error {
	kind := KindOf(err)
	if kind == Unclassified || kind == AuthRevoked {
		kind = Unavailable
	}
	return &Error{Kind: kind, Key: key, Message: msg, Err: err}
}

func revokedGrant(g *Grant, key string) *Error {
	return &Error{Kind: AuthRevoked, Code: g.RevokedReason, Reason: ReasonRemembered, Key: key,
		Message: "the grant was revoked " + g.Revoked.UTC().Format(time.RFC3339)}
}

// Token returns the key's access token. A revoked grant fails at once
// with an *Error of Kind AuthRevoked, without a request to Notion.
func (s *grantSource) Token() (*oauth2.Token, error) {
	b, e := s.bearer(0)
	if e != nil {
		return nil, e
	}
	return &oauth2.Token{AccessToken: b.token(), TokenType: "bearer"}, nil
}

// lost marks the grant revoked, if it still holds token (a Transport of
// the Manager's confirmed it lost).
func (s *grantSource) lost(ctx context.Context, token string, e *Error) {
	s.m.markRevoked(ctx, s.key, token, e)
}

// Refresh implements [Refresher]; see [Manager].
func (s *grantSource) Refresh(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	m := s.m
	if rejected == nil {
		rejected = &oauth2.Token{}
	}
	// One flight per rejected token: a call that rejected the current token
	// must not join a flight for an older one, which would adopt, and hand
	// it back, the very token it rejected. The flights of one key still
	// run one at a time, under the Store's lock.
	sum := sha256.Sum256([]byte(rejected.AccessToken)) // keys hold no token
	ch := m.flights.DoChan(s.key+"\x00"+string(sum[:]), func() (any, error) {
		// Detached: other calls wait on this refresh too.
		// Bounded like the Transport's probe: a hung token endpoint must
		// not hold the key's lock (across processes, for a FileStore).
		fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), m.clock.Now().Add(probeTimeout))
		defer cancel()
		return s.refresh(fctx, rejected.AccessToken)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return &oauth2.Token{AccessToken: r.Val.(string), TokenType: "bearer"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *grantSource) refresh(ctx context.Context, rejected string) (string, error) {
	m := s.m
	var out string
	var gone *Error
	g, err := m.store.Update(ctx, s.key, func(g *Grant) (*Grant, error) {
		switch {
		case g == nil:
			return nil, &Error{Kind: InvalidRequest, Key: s.key, Message: "no grant stored for this key: connect first",
				Err: ErrGrantNotFound}
		case !g.Revoked.IsZero():
			return nil, revokedGrant(g, s.key)
		case g.Token == nil:
			return nil, &Error{Kind: InvalidRequest, Key: s.key, Message: "the grant stored for this key has no token",
				Err: ErrGrantNotFound}
		case g.Token.AccessToken != rejected:
			out = g.Token.AccessToken // someone else rotated: adopt theirs
			return nil, errUnchanged
		case g.Token.RefreshToken == "" || m.cfg == nil:
			return nil, ErrNoRefreshToken
		}
		tok, err := m.cfg.Refresh(ctx, g.Token.RefreshToken)
		if err != nil {
			if KindOf(err) != AuthRevoked {
				return nil, err // nothing known: store nothing
			}
			gone = &Error{Kind: AuthRevoked, Code: CodeInvalidGrant, Key: s.key,
				Message: "the grant is gone: its refresh was refused"}
			var pe *Error
			if errors.As(err, &pe) {
				c := *pe
				c.Key = s.key
				gone = &c
			}
			g.Revoked, g.RevokedReason = m.clock.Now(), CodeInvalidGrant
			return g, nil
		}
		if tok.RefreshToken == "" {
			tok.RefreshToken = g.Token.RefreshToken // Notion gave none: the old one stands
		}
		g.Token, out = tok, tok.AccessToken
		return g, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		s.read.Store(0) // read the adopted grant whole on the next call
		return out, nil
	case err != nil:
		var pe *Error
		if errors.As(err, &pe) || errors.Is(err, ErrNoRefreshToken) || errors.Is(err, context.Canceled) {
			return "", err
		}
		return "", keyError(s.key, "cannot refresh the grant", err)
	}
	s.remember(g)
	if gone != nil {
		if m.OnAuthRevoked != nil {
			seen := *gone
			m.OnAuthRevoked(ctx, &seen)
		}
		return "", gone
	}
	return out, nil
}
