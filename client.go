package notionauth

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jomei/notionapi"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// DefaultNotionVersion is the Notion-Version the Transport's token probe
// sends when the request it confirms carried none. It is the version
// github.com/jomei/notionapi v1.13.3 speaks.
const DefaultNotionVersion = "2022-06-28"

const (
	// probePath is where a 401 is confirmed: the cheapest call every token
	// may make.
	probePath = "/v1/users/me"
	// probeTimeout bounds a probe, which runs detached from the context of
	// the call that started it (other calls wait on it too).
	probeTimeout = 30 * time.Second
	// latchSize bounds how many revoked tokens a Transport remembers.
	latchSize = 4096
	// drainLimit is how much of a discarded success body is read so that
	// its connection can be reused.
	drainLimit = 4 << 10
)

// Transport is an http.RoundTripper for Notion's API. It authenticates each
// request with a token from Source, classifies every answer with a status of
// 400 or more into an *[Error], and makes sure that only a genuine, confirmed
// token loss is ever reported as [ErrAuthRevoked].
//
// For a response below 400 RoundTrip returns it untouched. Otherwise it
// reads the error body (at most 1 MiB), closes it and returns a nil response
// with an *Error; an http.Client hands that back wrapped in a *url.Error, so
// match it with errors.Is(err, ErrThrottled) or errors.As(err, &e).
//
// # Confirm before revoke
//
// A 401 is not believed at once: Notion's edge, a proxy or a bad moment can
// all produce one. The Transport probes the token once with GET
// /v1/users/me (one probe per token, however many goroutines met the 401):
//
//   - the probe answers Notion's 401 "unauthorized": the token is gone. The
//     Transport remembers it (by a keyed hash, never the token itself, for up
//     to 4096 tokens), calls OnAuthRevoked once, and from then on fails every
//     request with that token at once with ErrAuthRevoked, sending nothing;
//   - the probe succeeds: the 401 was spurious. The request is sent once more
//     (if RetryPolicy allows a second attempt and its body can be rewound);
//     if it fails again, the error is not AuthRevoked (Reason
//     [ReasonTokenValid]);
//   - the probe fails otherwise (network, 5xx, 429, an edge page): nothing is
//     known, so the call fails as Unavailable or Throttled with Reason
//     [ReasonUnconfirmed]. Doubt never revokes.
//
// # Retries and pacing
//
// What failed is retried only when that is safe (see [RetryPolicy]), and
// every token gets one pace shared by all goroutines (see [Pacing]): after a
// 429 nobody sends with that token until the pause Notion asked for is over,
// and once the token's budget per window is known it is spent exactly, so
// that later windows meet no 429.
//
// Requests to the token endpoints (/v1/oauth/...) are authenticated with the
// client's credentials, not a token: their answers are classified but never
// probed or remembered.
//
// The zero value is ready to use: it sends requests through
// http.DefaultTransport with their own Authorization header. A Transport is
// safe for concurrent use and should be shared by every client of the same
// tokens, so that they share what it learns. Its fields must not be changed,
// nor the Transport copied, after first use. Use it for Notion's API only: it adds the token to every
// request it sends, so fetch file URLs with another client.
type Transport struct {
	// Base sends the requests. nil means http.DefaultTransport.
	Base http.RoundTripper
	// Source gives the token for each request, sent as "Authorization:
	// Bearer <token>". nil means the request's own Authorization header is
	// used. A request that carries another scheme (Basic, for the token
	// endpoints) keeps it.
	Source oauth2.TokenSource
	// Retry says how hard to try. The zero value means the defaults.
	Retry RetryPolicy
	// Pacing says how each token's rate budget is spent. The zero value
	// shares a pause per token and learns the budget; see [Pacing].
	Pacing Pacing
	// OnAuthRevoked, if set, is called once per confirmed revoked token,
	// never concurrently for one token, with the error of the call that saw
	// it first. Calls waiting on the same token return only once it has
	// returned, so it should be quick (mark the grant, enqueue a job).
	OnAuthRevoked func(ctx context.Context, err *Error)
	// OnEvent, if set, is called for every retry, wait and pause, on the
	// goroutine of the call concerned. It should be quick.
	OnEvent func(Event)
	// Logger, if set, receives the same events at debug level. nil means
	// silent.
	Logger *slog.Logger

	// lost, if set, learns which token was found revoked (the Manager
	// uses it to mark exactly the grant that held it). Never printed.
	lost func(ctx context.Context, token string)

	once sync.Once
	st   *transportState
}

var _ http.RoundTripper = (*Transport)(nil)

// transportState is what a Transport learns while it runs.
type transportState struct {
	seed   maphash.Seed
	pacing Pacing
	clock  clock
	bearer atomic.Pointer[bearer] // the last token seen, ready to send
	latch  latch
	probes singleflight.Group // keyed by token hash: one probe per token at a time
	budget retryBudget
	counters

	pacersMu sync.Mutex // guards pacers
	pacers   map[uint64]*pacer
}

// bearer caches a token's header value, hash and pacer, so that the common
// case (one token, many calls) allocates nothing for them.
type bearer struct {
	token string
	key   uint64
	auth  []string // {"Bearer " + token}; shared, never modified
	pace  *pacer   // nil when pacing is off
}

// maxPacers bounds how many tokens' paces a Transport keeps; idle ones
// are forgotten first.
const maxPacers = 4096

func (t *Transport) state() *transportState {
	t.once.Do(func() {
		t.st = &transportState{seed: maphash.MakeSeed(), pacing: t.Pacing, clock: realClock{}}
	})
	return t.st
}

// pacerFor returns the pacer of the token with hash key.
func (st *transportState) pacerFor(key uint64) *pacer {
	if st.pacing.Off {
		return nil
	}
	st.pacersMu.Lock()
	defer st.pacersMu.Unlock()
	if p := st.pacers[key]; p != nil {
		return p
	}
	p := newPacer(st.clock, st.pacing)
	if st.pacers == nil {
		st.pacers = make(map[uint64]*pacer)
	}
	if len(st.pacers) >= maxPacers {
		now := st.clock.Now()
		for k, q := range st.pacers {
			if q.idle(now) {
				delete(st.pacers, k)
			}
		}
		if len(st.pacers) >= maxPacers {
			return p // all busy: this token's pace is not shared
		}
	}
	st.pacers[key] = p
	return p
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip sends req and classifies the answer; see [Transport]. It never
// modifies req, and it closes req.Body, also when it returns an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		closeBody(req)
		return nil, &Error{Kind: InvalidRequest, Message: "request has no URL"}
	}
	if err := t.validate(); err != nil {
		closeBody(req)
		return nil, requestError(req, InvalidRequest, err.Error(), nil)
	}
	st := t.state()
	b, err := t.bearerFor(req, st)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	var pace *pacer
	if b != nil {
		if e := st.latch.get(b.key); e != nil {
			closeBody(req)
			return nil, revokedError(e, req)
		}
		pace = b.pace
	}
	ctx := req.Context()
	for n := 1; ; n++ {
		var tk ticket
		if pace != nil {
			var waited time.Duration
			tk, waited, err = pace.acquire(ctx, t.Retry.maxWait())
			if err != nil {
				if n == 1 {
					closeBody(req) // never handed to Base
				}
				return nil, waitError(req, err, waited, n-1)
			}
			if waited > 0 {
				st.waits.Add(1)
				st.waited.Add(int64(waited))
				t.emit(ctx, Event{Type: EventWait, Kind: Throttled, Attempt: n, Wait: waited,
					Method: req.Method, Path: req.URL.Path})
			}
		}
		resp, err := t.send(req, b, n)
		if err == nil && resp.StatusCode < 400 {
			if pace != nil {
				pace.done(tk, nil)
			}
			return resp, nil
		}
		e := failure(req, resp, err, n)
		if pace != nil {
			pace.done(tk, e)
		}
		if e.Kind == Throttled && e.StatusCode != 0 {
			st.throttled.Add(1)
			if pace != nil && e.RetryAfter > 0 {
				t.emit(ctx, eventFor(EventPause, e, e.RetryAfter))
			}
		}
		if e.Kind == AuthRevoked && e.StatusCode == http.StatusUnauthorized && !isOAuthPath(req.URL.Path) {
			if r, ok := t.Source.(Refresher); ok && b != nil {
				if resp, err, done := t.refresh(req, st, r, b, e, n, true); done {
					return resp, err
				}
			}
			return t.confirm(req, st, b, e, n)
		}
		wait, retry := t.retryWait(req, e, n, pace != nil, st)
		if !retry {
			return nil, e
		}
		st.retries.Add(1)
		t.emit(ctx, eventFor(EventRetry, e, wait))
		if e.StatusCode == 0 || e.StatusCode >= 502 && e.StatusCode <= 504 {
			// The connection that carried this failure may be stale (a run
			// of 502s can follow one another on one keep-alive
			// connection): make the next attempt dial afresh.
			if ci, ok := t.base().(interface{ CloseIdleConnections() }); ok {
				ci.CloseIdleConnections()
			}
		}
		if !sleep(ctx, systemClock{}, wait) {
			e.Err = errors.Join(e.Err, ctx.Err())
			return nil, e
		}
	}
}

// validate reports configuration that cannot be honoured.
func (t *Transport) validate() error {
	if err := t.Retry.validate(); err != nil {
		return err
	}
	return t.Pacing.validate()
}

// waitError is the error of a call that could not wait its turn.
func waitError(req *http.Request, err error, wait time.Duration, attempts int) *Error {
	e := requestError(req, Throttled, "the token is paused by Notion's rate limit", nil)
	e.Reason, e.RetryAfter, e.Attempts = ReasonPaced, wait, attempts
	if err != errWaitTooLong {
		e.Err = err
	}
	return e
}

// bearerFor returns the token to send, or nil when the request carries
// none (or a non-bearer scheme, which it keeps).
func (t *Transport) bearerFor(req *http.Request, st *transportState) (*bearer, error) {
	auth := headerValue(req.Header, "Authorization")
	if t.Source == nil || auth != "" && !hasBearerPrefix(auth) {
		tok := ""
		if hasBearerPrefix(auth) {
			tok = strings.TrimSpace(auth[len("Bearer"):])
		}
		if tok == "" {
			return nil, nil
		}
		return st.bearerFor(tok), nil
	}
	tok, err := t.Source.Token()
	if err != nil {
		return nil, requestError(req, KindOf(err), "cannot get a token from Source", err)
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, requestError(req, InvalidRequest, "Source returned an empty token", nil)
	}
	return st.bearerFor(tok.AccessToken), nil
}

// headerValue is h.Get(key) for a key already in canonical form: a direct
// lookup, which finds exactly what Get would.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// hasBearerPrefix reports whether auth uses the Bearer scheme (with or
// without a token after it).
func hasBearerPrefix(auth string) bool {
	const scheme = "Bearer"
	return len(auth) >= len(scheme) && strings.EqualFold(auth[:len(scheme)], scheme) &&
		(len(auth) == len(scheme) || auth[len(scheme)] == ' ')
}

func (st *transportState) bearerFor(tok string) *bearer {
	if b := st.bearer.Load(); b != nil && b.token == tok {
		return b
	}
	key := maphash.String(st.seed, tok)
	b := &bearer{token: tok, key: key, auth: []string{"Bearer " + tok}, pace: st.pacerFor(key)}
	st.bearer.Store(b)
	return b
}

// send sends attempt n of req with b's token (if any). Per the
// RoundTripper contract req is never modified: when something must change
// (the header, a rewound body) a shallow copy is sent instead.
func (t *Transport) send(req *http.Request, b *bearer, n int) (*http.Response, error) {
	out := req
	setAuth := b != nil && t.Source != nil && headerValue(req.Header, "Authorization") != b.auth[0]
	if setAuth || n > 1 {
		r := *req
		out = &r
	}
	if setAuth {
		// The base must not modify the header either, so the value slices
		// can be shared with the caller's; only the map is new.
		h := maps.Clone(req.Header)
		if h == nil {
			h = make(http.Header, 1)
		}
		h["Authorization"] = b.auth
		out.Header = h
	}
	if n > 1 && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	t.st.requests.Add(1)
	return t.base().RoundTrip(out)
}

// canResend reports whether req may be sent again as attempt n.
func (t *Transport) canResend(req *http.Request, n int) bool {
	return n <= t.Retry.maxAttempts() && req.Context().Err() == nil && rewindable(req)
}

// confirm decides what a 401 for a bearer token means; see [Transport].
// It returns a response only when a resend after a spurious 401 succeeds.
func (t *Transport) confirm(req *http.Request, st *transportState, b *bearer, first *Error, n int) (*http.Response, error) {
	if b == nil {
		first.Kind = InvalidRequest
		first.Reason = ReasonNoToken
		first.Message = joinMessage("the request carried no bearer token", first.Message)
		return nil, first
	}
	ctx := req.Context()
	// The probe may outlive this call: it gets its own copies of what it
	// needs, never req itself.
	seen, pr := *first, probeRequest(req, b)
	ch := st.probes.DoChan(strconv.FormatUint(b.key, 36), func() (any, error) {
		return t.probe(ctx, pr, st, b, &seen), nil
	})
	var res probeResult
	select {
	case r := <-ch:
		res = r.Val.(probeResult)
	case <-ctx.Done():
		first.Kind, first.Reason, first.Err = Unavailable, ReasonUnconfirmed, ctx.Err()
		return nil, first
	}
	switch {
	case res.revoked != nil:
		first.Kind = AuthRevoked
		return nil, first
	case res.err != nil:
		first.Kind, first.Reason, first.Err = Unavailable, ReasonUnconfirmed, res.err
		var pe *Error
		if errors.As(res.err, &pe) && pe.Kind == Throttled {
			first.Kind, first.RetryAfter = Throttled, pe.RetryAfter
		}
		return nil, first
	}
	// The token works: the 401 was about this call only.
	first.Kind, first.Reason = Unavailable, ReasonTokenValid
	if !t.canResend(req, n+1) {
		return nil, first
	}
	resp, err := t.send(req, b, n+1)
	if err == nil && resp.StatusCode < 400 {
		return resp, nil
	}
	e := failure(req, resp, err, n+1)
	if e.Kind == AuthRevoked {
		e.Kind, e.Reason = Unavailable, ReasonTokenValid
	}
	return nil, e
}

// refresh asks a Refresher for another token after a 401 and sends the
// request once more with it. done is false when the Refresher cannot help
// (no refresh token, or the same token back): the 401 is then confirmed by
// a probe. When again is set and the new token meets a 401 too (it may be
// one that another process stored and Notion has lost since), the
// Refresher is asked once more, for a token other than that one, before
// the 401 is confirmed.
func (t *Transport) refresh(req *http.Request, st *transportState, r Refresher, b *bearer, first *Error, n int, again bool) (resp *http.Response, err error, done bool) {
	tok, rerr := r.Refresh(req.Context(), &oauth2.Token{AccessToken: b.token})
	switch {
	case errors.Is(rerr, ErrNoRefreshToken):
		return nil, nil, false
	case rerr != nil && KindOf(rerr) == AuthRevoked:
		// The grant is gone (invalid_grant): remember the token, so that
		// its next calls fail at once.
		revoked := *first
		revoked.Err = rerr
		return nil, t.revoke(req.Context(), st, b, &revoked), true
	case rerr != nil:
		first.Kind, first.Reason, first.Err = Unavailable, ReasonUnconfirmed, rerr
		return nil, first, true
	case tok == nil || tok.AccessToken == "" || tok.AccessToken == b.token:
		return nil, nil, false
	}
	if !t.canResend(req, n+1) {
		first.Kind, first.Reason = Unavailable, ReasonTokenValid
		return nil, first, true
	}
	nb := st.bearerFor(tok.AccessToken)
	resp, err = t.send(req, nb, n+1)
	if err == nil && resp.StatusCode < 400 {
		return resp, nil, true
	}
	e := failure(req, resp, err, n+1)
	if e.Kind == AuthRevoked && e.StatusCode == http.StatusUnauthorized {
		// The Refresher's token was refused too: it may be one another
		// process stored and Notion has lost since, while the grant's
		// refresh token still works. Ask once more before confirming.
		if again {
			if resp, err, done := t.refresh(req, st, r, nb, e, n+1, false); done {
				return resp, err, true
			}
		}
		resp, err = t.confirm(req, st, nb, e, n+1)
		return resp, err, true
	}
	return nil, e, true
}

// probeResult is what a probe learnt about a token.
type probeResult struct {
	revoked *Error // confirmed: the token is gone
	err     error  // the probe failed: nothing is known
	// both nil: the token works
}

// probe asks Notion whether b's token still works, unless it is already
// known to be revoked. It runs once per token at a time (singleflight),
// detached from the cancellation of the call that started it, since other
// calls wait on it too.
func (t *Transport) probe(ctx context.Context, pr *http.Request, st *transportState, b *bearer, first *Error) probeResult {
	if e := st.latch.get(b.key); e != nil {
		return probeResult{revoked: e}
	}
	ctx = context.WithoutCancel(ctx)
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st.requests.Add(1)
	resp, err := t.base().RoundTrip(pr.WithContext(pctx))
	if err != nil {
		return probeResult{err: &Error{Kind: Unavailable, Method: http.MethodGet, Path: probePath,
			Message: "token probe got no response", Err: err}}
	}
	if resp.StatusCode < 400 {
		drain(resp.Body)
		return probeResult{}
	}
	body, _ := readBounded(resp.Body)
	resp.Body.Close()
	pe := classify(resp.StatusCode, resp.Header, body, http.MethodGet, probePath, "", time.Now())
	if pe.Kind != AuthRevoked || pe.Code != CodeUnauthorized {
		// Unknown: the cause must not match errors.Is(err, ErrAuthRevoked)
		// (or any other verdict) through Unwrap.
		if pe.Kind != Throttled {
			pe.Kind = Unavailable
		}
		return probeResult{err: pe}
	}
	revoked := *first
	revoked.Kind = AuthRevoked
	return probeResult{revoked: t.revoke(ctx, st, b, &revoked)}
}

// revoke remembers b's token as revoked, with e as the error of its later
// calls, and calls OnAuthRevoked if this is the first time it is
// remembered. It returns e.
func (t *Transport) revoke(ctx context.Context, st *transportState, b *bearer, e *Error) *Error {
	if !st.latch.addNew(b.key, e) {
		return e
	}
	ctx = context.WithoutCancel(ctx)
	if t.lost != nil {
		t.lost(ctx, b.token)
	}
	if t.OnAuthRevoked != nil {
		seen := *e
		t.OnAuthRevoked(ctx, &seen)
	}
	return e
}

// probeRequest builds GET /v1/users/me on req's host (and path prefix, for
// an API behind a proxy), with b's token and req's Notion-Version.
func probeRequest(req *http.Request, b *bearer) *http.Request {
	prefix := ""
	if i := strings.Index(req.URL.Path, "/v1/"); i > 0 {
		prefix = req.URL.Path[:i]
	}
	u := &url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: prefix + probePath}
	version := req.Header.Get("Notion-Version")
	if version == "" {
		version = DefaultNotionVersion
	}
	h := http.Header{"Authorization": b.auth, "Notion-Version": {version}}
	return &http.Request{Method: http.MethodGet, URL: u, Header: h, Host: u.Host}
}

// failure turns a failed attempt (a response of 400 or more, or a transport
// error) into an *Error, reading and closing the response body.
func failure(req *http.Request, resp *http.Response, err error, attempts int) *Error {
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e // a notionauth Transport below this one already decided
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			err = ctxErr
		}
		e = requestError(req, Unavailable, "no response", err)
		e.Attempts = attempts
		return e
	}
	body, rerr := readBounded(resp.Body)
	resp.Body.Close()
	e := classify(resp.StatusCode, resp.Header, body, req.Method, req.URL.Path, req.URL.RawQuery, time.Now())
	e.Attempts = attempts
	if rerr != nil {
		e.Err = rerr
	}
	return e
}

func requestError(req *http.Request, kind Kind, msg string, err error) *Error {
	return &Error{Kind: kind, Message: msg, Method: req.Method, Path: req.URL.Path, Err: err}
}

// revokedError is the error for a request with a token known to be revoked.
func revokedError(latched *Error, req *http.Request) *Error {
	e := *latched
	e.Method, e.Path, e.Attempts, e.ObjectID = req.Method, req.URL.Path, 0, ""
	e.Message = joinMessage("token was revoked (remembered; nothing sent)", latched.Message)
	return &e
}

func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		req.Body.Close()
	}
}

func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	body.Close()
}

// latch remembers revoked tokens by hash, at most latchSize of them (the
// oldest is forgotten first).
type latch struct {
	n     atomic.Int32 // len(m): lets the common case skip the lock
	mu    sync.RWMutex // guards m and order
	m     map[uint64]*Error
	order []uint64 // keys in insertion order
}

func (l *latch) get(key uint64) *Error {
	if l.n.Load() == 0 {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.m[key]
}

// addNew adds key unless it is there already, and reports whether it
// added it. The oldest key is forgotten when the latch is full.
func (l *latch) addNew(key uint64, e *Error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[key]; ok {
		return false
	}
	if l.m == nil {
		l.m = make(map[uint64]*Error)
	}
	if len(l.order) >= latchSize {
		delete(l.m, l.order[0])
		l.order = append(l.order[:0], l.order[1:]...)
	}
	l.order = append(l.order, key)
	l.m[key] = e
	l.n.Store(int32(len(l.m)))
	return true
}

// NewClient returns a notionapi client whose every call goes through t,
// with notionapi's own 429 loop switched off (notionapi.WithRetry(1)) so that
// t alone decides what to retry. opts are applied first; t's http.Client and
// the retry setting are applied last and cannot be overridden. t.Source
// should be set: the notionapi client itself sends no token. A nil t means a
// zero Transport.
func NewClient(t *Transport, opts ...notionapi.ClientOption) *notionapi.Client {
	if t == nil {
		t = &Transport{}
	}
	all := make([]notionapi.ClientOption, 0, len(opts)+2)
	all = append(all, opts...)
	all = append(all, notionapi.WithHTTPClient(&http.Client{Transport: t}), notionapi.WithRetry(1))
	return notionapi.NewClient("", all...)
}
