package notionauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// What follows a 401: refresh, confirm by a probe, remember a revoked
// token. See [Transport].

const (
	// probePath is where a 401 is confirmed: the cheapest call every token
	// may make.
	probePath = "/v1/users/me"
	// probeTimeout bounds a probe, which runs detached from the context of
	// the call that started it (other calls wait on it too).
	probeTimeout = 30 * time.Second
	// maxRefreshes is how many times one call asks its Refresher for
	// another token: once, and once more if that token meets a 401 too (it
	// may be one another process stored and Notion has lost since).
	maxRefreshes = 2
)

// unauthorized is the verdict on a 401 for a request to the API (not the
// token endpoints): send again with a refreshed token, or with the same
// token once a probe found it valid; or stop, revoked or unconfirmed.
func (c *call) unauthorized(e *Error) (time.Duration, *Error) {
	if c.tok == nil {
		e.Kind = InvalidRequest
		e.Reason = ReasonNoToken
		e.Message = joinMessage("the request carried no bearer token", e.Message)
		return 0, e
	}
	if r := c.refresher(); r != nil && c.asked < maxRefreshes {
		c.asked++
		refreshed, stop := c.refresh(r, e)
		if stop != nil {
			return 0, stop
		}
		if refreshed {
			return c.resend(e, ReasonRefreshed)
		}
		// The Refresher cannot help: confirm the 401 as if there were none.
	}
	if c.valid {
		// The probe found this token valid, and Notion answered 401 again.
		e.Kind, e.Reason = Unavailable, ReasonTokenValid
		return 0, e
	}
	res := c.confirm(e)
	switch {
	case res.revoked:
		return 0, e
	case res.err != nil:
		return 0, unconfirmed(e, res.err)
	}
	c.valid = true
	return c.resend(e, ReasonTokenValid)
}

// refresher is what can give the call another token: its Manager's
// grant, or a Source that is a Refresher; nil when nothing can.
func (c *call) refresher() Refresher {
	if c.src != nil {
		return c.src
	}
	r, _ := c.t.Source.(Refresher)
	return r
}

// resend lets the call send again at once after the 401 e was dealt with
// (reason says how), if attempts and the retry budget allow it.
func (c *call) resend(e *Error, reason string) (time.Duration, *Error) {
	// A refreshed token fixed what was wrong, for every call that met the
	// 401 at once: only a resend after a spurious 401 is a retry of a
	// flaky answer, which the budget bounds.
	if !c.mayResend() || reason == ReasonTokenValid && !c.st.budget.take(c.st.requests.Load(), c.t.Retry.retryRatio(), c.t.Retry.retryBurst()) {
		if c.ctx.Err() != nil {
			return 0, c.ended()
		}
		e.Kind, e.Reason = Unavailable, reason
		return 0, e
	}
	c.again(e, 0, reason)
	return 0, nil
}

// refresh asks r for a token other than the rejected one and makes it the
// call's. It reports false when r cannot help (no refresh token, or the
// same token back), and an error to stop with when the refresh failed: of
// Kind AuthRevoked, the token remembered, when the grant is gone.
func (c *call) refresh(r Refresher, e *Error) (bool, *Error) {
	tok, err := r.Refresh(c.ctx, &oauth2.Token{AccessToken: c.tok.token()})
	switch {
	case errors.Is(err, ErrNoRefreshToken):
		return false, nil
	case err != nil && KindOf(err) == AuthRevoked:
		// The grant is gone (invalid_grant): remember the token, so that
		// its next calls fail at once.
		revoked := *e
		revoked.Message = joinMessage("the grant is gone: its refresh was refused", revokedCause(err))
		return false, c.t.revoke(c.ctx, c.st, c.src, c.tok, &revoked, CodeInvalidGrant)
	case err != nil:
		if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
			return false, c.ended()
		}
		stop := c.fromCause("cannot refresh the token after a 401", err)
		if stop.Reason == "" {
			stop.Reason = ReasonUnconfirmed // nothing is known about the token
		}
		return false, stop
	case tok == nil || tok.AccessToken == "" || tok.AccessToken == c.tok.token():
		return false, nil
	}
	if stop := c.use(tok.AccessToken); stop != nil {
		return false, stop
	}
	return true, nil
}

// revokedCause describes the refusal of a refresh, without a second
// "notionauth:" prefix.
func revokedCause(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.summary()
	}
	return oneLine(err.Error(), maxMessage)
}

// unconfirmed is the error of a 401 whose probe failed: nothing is known,
// so it has the Kind of the probe's failure (Throttled, or else
// Unavailable), never AuthRevoked.
func unconfirmed(e *Error, probeErr error) *Error {
	e.Kind, e.Reason = Unavailable, ReasonUnconfirmed
	var pe *Error
	switch {
	case errors.As(probeErr, &pe):
		if pe.Kind == Throttled {
			e.Kind, e.RetryAfter = Throttled, pe.RetryAfter
		}
		e.Message = joinMessage(e.Message, "the token probe failed: "+pe.summary())
		e.Err = pe.Err
	case errors.Is(probeErr, context.Canceled):
		e.Kind, e.Err = Canceled, probeErr
	default:
		e.Err = probeErr
	}
	return e
}

// probeResult is what a probe learnt about a token.
type probeResult struct {
	revoked bool  // confirmed: the token is gone
	err     error // the probe failed: nothing is known
	// neither: the token works
}

// confirm probes the call's token after the 401 e, once per token however
// many calls wait on it.
func (c *call) confirm(e *Error) probeResult {
	t, st, src, b, ctx := c.t, c.st, c.src, c.tok, c.ctx
	// The probe may outlive this call: it gets its own copies of what it
	// needs, never the call's request (nor the call itself, which stays
	// on the stack).
	seen, pr := *e, probeRequest(c.req, b)
	ch := st.probes.DoChan(strconv.FormatUint(b.key, 36), func() (any, error) {
		return t.probe(ctx, pr, st, src, b, &seen), nil
	})
	select {
	case r := <-ch:
		return r.Val.(probeResult)
	case <-c.ctx.Done():
		return probeResult{err: c.ctx.Err()}
	}
}

// probe asks Notion whether b's token still works, unless it is already
// known to be revoked. It runs once per token at a time (singleflight),
// detached from the cancellation of the call that started it, since other
// calls wait on it too. It takes its turn from the token's pace like any
// request.
func (t *Transport) probe(ctx context.Context, pr *http.Request, st *transportState, src keySource, b *bearer, first *Error) probeResult {
	if _, ok := st.latch.get(b.key); ok {
		return probeResult{revoked: true}
	}
	ctx = context.WithoutCancel(ctx)
	pctx, cancel := context.WithDeadline(ctx, st.clock.Now().Add(probeTimeout))
	defer cancel()
	var tk ticket
	if b.pace != nil {
		var wait time.Duration
		var err error
		if tk, wait, err = b.pace.acquire(pctx, probeTimeout); err != nil {
			return probeResult{err: &Error{Kind: Throttled, Reason: ReasonPaced, RetryAfter: wait,
				Method: http.MethodGet, Path: probePath, Message: "the token is paused by Notion's rate limit"}}
		}
	}
	st.requests.Add(1)
	resp, err := st.base.RoundTrip(pr.WithContext(pctx))
	if err != nil {
		return probeResult{err: newSecrets(b.token()).scrubError(&Error{Kind: Unavailable, Method: http.MethodGet,
			Path: probePath, Message: "token probe got no response", Err: err})}
	}
	if resp.StatusCode < 400 {
		drain(resp.Body)
		if b.pace != nil {
			b.pace.done(tk, nil)
		}
		return probeResult{}
	}
	body, _ := readBounded(resp.Body)
	resp.Body.Close()
	pe := newSecrets(b.token()).scrubError(classify(resp.StatusCode, resp.Header, body, http.MethodGet, probePath, "", st.clock.Now()))
	if b.pace != nil {
		b.pace.done(tk, pe)
	}
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
	t.revoke(ctx, st, src, b, &revoked, CodeUnauthorized)
	return probeResult{revoked: true}
}

// revoke remembers b's token as revoked by code (unauthorized,
// invalid_grant) and, if this is the first time it is remembered, tells
// the Manager's grant src (if any) and OnAuthRevoked. It returns e.
func (t *Transport) revoke(ctx context.Context, st *transportState, src keySource, b *bearer, e *Error, code string) *Error {
	if !st.latch.add(b.key, code) {
		return e
	}
	if st.pace != nil {
		st.pacers.forget(b.key)
	}
	ctx = context.WithoutCancel(ctx)
	seen := *e
	if src != nil {
		seen.Key = src.name()
		forGrant := seen
		src.lost(ctx, b.token(), &forGrant)
	}
	if t.OnAuthRevoked != nil {
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
	h := http.Header{"Authorization": b.auth[:], "Notion-Version": {version}}
	return &http.Request{Method: http.MethodGet, URL: u, Header: h, Host: u.Host}
}

// revokedError is the error for a request with a token known to be
// revoked: nothing was sent.
func revokedError(code string, req *http.Request) *Error {
	return &Error{Kind: AuthRevoked, Code: code, Reason: ReasonRemembered,
		Message: "the token was revoked (remembered; nothing sent)", Method: req.Method, Path: req.URL.Path}
}

// latchSize bounds how many revoked tokens a Transport remembers: far more
// than any app holds grants. Each costs about 30 bytes; a full latch about
// 30 MB. When it is full the oldest is forgotten first.
const latchSize = 1 << 20

// latch remembers revoked tokens by keyed hash, with the code that
// revoked them (unauthorized, invalid_grant).
type latch struct {
	n     atomic.Int32 // len(m): lets the common case skip the lock
	mu    sync.RWMutex // guards the fields below
	m     map[uint64]uint8
	order []uint64 // keys in insertion order, a ring once full
	next  int      // where the ring's oldest key is
	codes []string // code of each index in m
}

// get reports whether key is remembered, and its code.
func (l *latch) get(key uint64) (string, bool) {
	if l.n.Load() == 0 {
		return "", false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, ok := l.m[key]
	if !ok {
		return "", false
	}
	return l.codes[i], true
}

// add remembers key with code unless it is there already, and reports
// whether it added it.
func (l *latch) add(key uint64, code string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[key]; ok {
		return false
	}
	if l.m == nil {
		l.m = make(map[uint64]uint8)
	}
	if len(l.order) < latchSize {
		l.order = append(l.order, key)
	} else {
		delete(l.m, l.order[l.next])
		l.order[l.next] = key
		l.next = (l.next + 1) % latchSize
	}
	l.m[key] = l.code(code)
	l.n.Store(int32(len(l.m)))
	return true
}

// code returns the index of code, adding it if new. A few codes ever
// revoke (unauthorized, invalid_grant); past 255 the last is reused.
// Caller holds mu.
func (l *latch) code(code string) uint8 {
	for i, c := range l.codes {
		if c == code {
			return uint8(i)
		}
	}
	if len(l.codes) == 256 {
		return 255
	}
	l.codes = append(l.codes, code)
	return uint8(len(l.codes) - 1)
}
