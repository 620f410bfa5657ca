package notionauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
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

// DefaultCacheTTL is how long a [Manager] trusts the grant it read from its
// Store before reading it again, so that a grant rotated or revoked by
// another process is seen without a request to Notion.
const DefaultCacheTTL = 10 * time.Second

// Manager runs the lifecycle of many grants, each under the app's own key
// (a workspace, a user): it stores new grants, gives a ready client per key,
// refreshes rotating tokens exactly once (in the process with singleflight,
// across processes through the Store's atomic update), marks lost grants
// revoked in the Store so that every process fails fast, and calls
// OnRevoked once per lost grant.
//
// Set Config and Store, then use it; it is safe for concurrent use. Its
// fields must not be changed after first use.
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
	// Base sends the requests of every client. nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Retry and Pacing are given to each key's Transport.
	Retry  RetryPolicy
	Pacing Pacing
	// OnRevoked, if set, is called once per grant that is lost (reason
	// "invalid_grant" or "unauthorized"), by the process that marked it.
	OnRevoked func(ctx context.Context, key, reason string)
	// CacheTTL is how long a grant read from the Store is trusted. 0 means
	// DefaultCacheTTL.
	CacheTTL time.Duration

	once    sync.Once
	store   Store
	flights singleflight.Group // keyed by grant key and rejected token; the Store's lock serialises them
	mu      sync.Mutex         // guards sources
	sources map[string]*grantSource
}

func (m *Manager) init() {
	m.once.Do(func() {
		m.store = m.Store
		if m.store == nil {
			m.store = &MemoryStore{}
		}
		m.sources = make(map[string]*grantSource)
	})
}

// source returns the key's TokenSource and Transport, made once.
func (m *Manager) source(key string) *grantSource {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sources[key]
	if s == nil {
		s = &grantSource{m: m, key: key}
		s.tr = &Transport{Base: m.Base, Source: s, Retry: m.Retry, Pacing: m.Pacing,
			lost: func(ctx context.Context, token string) { m.markRevoked(ctx, key, token, CodeUnauthorized) }}
		m.sources[key] = s
	}
	return s
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
	switch s := m.Store.(type) {
	case nil:
	case *FileStore:
		store = s.String()
	default:
		store = fmt.Sprintf("%T", s)
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

// Transport returns the key's Transport, shared by all its clients.
func (m *Manager) Transport(key string) *Transport { return m.source(key).tr }

// Client returns a notionapi client for key; see [NewClient].
func (m *Manager) Client(key string, opts ...notionapi.ClientOption) *notionapi.Client {
	return NewClient(m.Transport(key), opts...)
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
		return &Error{Kind: InvalidRequest, Message: "Connect needs a token"}
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
	tok, err := m.Config.HandleCallback(ctx, r, session)
	if err != nil {
		return nil, err
	}
	return tok, m.Connect(ctx, key, tok)
}

// Disconnect revokes key's token at Notion and deletes the grant: an
// app-side disconnect. A grant already gone at Notion is deleted all the
// same.
func (m *Manager) Disconnect(ctx context.Context, key string) error {
	m.init()
	g, err := m.store.Get(ctx, key)
	if errors.Is(err, ErrGrantNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if g.Revoked.IsZero() && g.Token != nil && m.Config != nil {
		if err := m.Config.Revoke(ctx, g.Token.AccessToken); err != nil && KindOf(err) != AuthRevoked {
			return err
		}
	}
	if err := m.store.Delete(ctx, key); err != nil {
		return err
	}
	m.source(key).forget()
	return nil
}

// markRevoked marks key's grant revoked, if it still holds the access
// token found lost (a reconnect may have replaced it meanwhile), and calls
// OnRevoked if this call is the one that marked it.
func (m *Manager) markRevoked(ctx context.Context, key, token, reason string) {
	marked := false
	g, err := m.store.Update(ctx, key, func(g *Grant) (*Grant, error) {
		if g == nil || !g.Revoked.IsZero() || g.Token == nil || g.Token.AccessToken != token {
			return nil, errUnchanged
		}
		g.Revoked, g.RevokedReason, marked = time.Now(), reason, true
		return g, nil
	})
	if err == nil {
		m.source(key).remember(g)
	}
	if marked && m.OnRevoked != nil {
		m.OnRevoked(ctx, key, reason)
	}
}

// errUnchanged ends an Update that has nothing to store.
var errUnchanged = errors.New("notionauth: unchanged")

// grantSource is one key's TokenSource and Refresher.
type grantSource struct {
	m   *Manager
	key string
	tr  *Transport

	mu   sync.Mutex // guards g and read
	g    *Grant
	read time.Time
}

// String names the source by its key only: printing it never reads the
// grant or the Manager's state, which other goroutines may be changing.
func (s *grantSource) String() string {
	return "notionauth.Manager.TokenSource(" + strconv.Quote(s.key) + ")"
}

// Format prints s as String does for every verb.
func (s *grantSource) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

func (s *grantSource) remember(g *Grant) {
	s.mu.Lock()
	s.g, s.read = g, time.Now()
	s.mu.Unlock()
}

func (s *grantSource) forget() {
	s.mu.Lock()
	s.g = nil
	s.mu.Unlock()
}

// grant returns key's grant, from the cache while it is fresh.
func (s *grantSource) grant(ctx context.Context) (*Grant, error) {
	ttl := s.m.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	s.mu.Lock()
	g, fresh := s.g, time.Since(s.read) < ttl
	s.mu.Unlock()
	if g != nil && fresh {
		return g, nil
	}
	g, err := s.m.store.Get(ctx, s.key)
	if err != nil {
		return nil, err
	}
	s.remember(g)
	return g, nil
}

// Token returns the key's access token. A revoked grant fails at once
// with an *Error of Kind AuthRevoked, without a request to Notion.
func (s *grantSource) Token() (*oauth2.Token, error) {
	g, err := s.grant(context.Background())
	if err != nil {
		if errors.Is(err, ErrGrantNotFound) {
			return nil, &Error{Kind: InvalidRequest, Message: "no grant stored for this key: connect first", Err: err}
		}
		return nil, err
	}
	if !g.Revoked.IsZero() {
		return nil, revokedGrant(g)
	}
	return g.Token.OAuth2(), nil
}

func revokedGrant(g *Grant) *Error {
	return &Error{Kind: AuthRevoked, Code: g.RevokedReason, Reason: g.RevokedReason,
		Message: "the grant was revoked " + g.Revoked.UTC().Format(time.RFC3339)}
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
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
		defer cancel()
		return s.refresh(fctx, rejected.AccessToken)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Token).OAuth2(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *grantSource) refresh(ctx context.Context, rejected string) (*Token, error) {
	m := s.m
	var out *Token
	gone := false
	var refreshErr error
	g, err := m.store.Update(ctx, s.key, func(g *Grant) (*Grant, error) {
		switch {
		case g == nil:
			return nil, ErrGrantNotFound
		case !g.Revoked.IsZero():
			return nil, revokedGrant(g)
		case g.Token == nil:
			return nil, ErrGrantNotFound // a grant record that keeps no token
		case g.Token.AccessToken != rejected:
			out = g.Token // someone else rotated: adopt theirs
			return nil, errUnchanged
		case g.Token.RefreshToken == "" || m.Config == nil:
			return nil, ErrNoRefreshToken
		}
		tok, err := m.Config.Refresh(ctx, g.Token.RefreshToken)
		if err != nil {
			if KindOf(err) != AuthRevoked {
				return nil, err // nothing known: store nothing
			}
			gone, refreshErr = true, err
			g.Revoked, g.RevokedReason = time.Now(), CodeInvalidGrant
			return g, nil
		}
		if tok.RefreshToken == "" {
			tok.RefreshToken = g.Token.RefreshToken // Notion gave none: the old one stands
		}
		g.Token, out = tok, tok
		return g, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		s.forgetSoon()
		return out, nil
	case err != nil:
		return nil, err
	}
	s.remember(g)
	if gone {
		if m.OnRevoked != nil {
			m.OnRevoked(ctx, s.key, CodeInvalidGrant)
		}
		return nil, refreshErr
	}
	return out, nil
}

// forgetSoon makes the next Token read the Store again, so that a grant
// adopted from another process is seen whole.
func (s *grantSource) forgetSoon() {
	s.mu.Lock()
	s.read = time.Time{}
	s.mu.Unlock()
}
