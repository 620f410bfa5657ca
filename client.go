package notionauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// drainLimit is how much of a discarded body is read so that its
// connection can be reused.
const drainLimit = 4 << 10

// Transport is an http.RoundTripper for Notion's API. It authenticates each
// request with a token from Source, classifies every answer with a status of
// 400 or more into an *[Error], and makes sure that only a genuine, confirmed
// token loss is ever reported as [ErrAuthRevoked].
//
// For a response below 400 RoundTrip returns it untouched. Otherwise it
// reads the error body (at most 1 MiB), closes it and returns a nil response
// with an *Error; an http.Client hands that back wrapped in a *url.Error, so
// match it with errors.Is(err, ErrThrottled) or errors.As(err, &e). Every
// error RoundTrip returns is an *Error, and its Kind is never Unclassified.
//
// # One call, many attempts
//
// A call runs as a loop of attempts, and each attempt ends in one verdict:
//
//	latch    the token is known to be revoked: ErrAuthRevoked at once, nothing sent
//	pace     wait for the token's turn (its shared pause, its budget per window)
//	send     through Base, with "Authorization: Bearer <token>"
//	verdict  2xx: return the response
//	         429/529, 5xx, 409: wait and send again, if RetryPolicy allows it
//	         401: refresh (a Refresher Source), then send again with the new token;
//	              else confirm with a probe, then send again or stop
//	         anything else: stop with the *Error
//
// Every request a call sends, the one after a refresh or after a 401 the
// probe found spurious included, takes its turn from the pace, counts in
// Error.Attempts and [RetryPolicy].MaxAttempts, draws on the retry budget
// and is reported to OnEvent.
//
// # Confirm before revoke
//
// A 401 is not believed at once: Notion's edge, a proxy or a bad moment can
// all produce one. If Source is a [Refresher] (a [Manager]'s is), it is
// asked for another token first, and the request is sent again with it.
// Otherwise, or if it cannot help, the Transport probes the token once with
// GET /v1/users/me (one probe per token, however many goroutines met the
// 401):
//
//   - the probe answers Notion's 401 "unauthorized": the token is gone. The
//     Transport remembers it (by a keyed hash, never the token itself), calls
//     OnAuthRevoked once, and from then on fails every request with that
//     token at once with ErrAuthRevoked, sending nothing;
//   - the probe succeeds: the 401 was spurious. The request is sent once more
//     (if RetryPolicy allows another attempt and its body can be rewound);
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
// The zero value is ready to use: it sends requests through a connection
// pool of its own, set up like http.DefaultTransport, with their own
// Authorization header. A Transport is safe for concurrent use and should
// be shared by every client of the same tokens, so that they share what it
// learns; it serves any number of tokens. Its fields must not be changed,
// nor the Transport copied, after first use. Use it for Notion's API only:
// it adds the token to every request it sends, so fetch file URLs with
// another client.
type Transport struct {
	// Base sends the requests. nil means a connection pool of the
	// Transport's own, configured like http.DefaultTransport. The
	// Transport closes idle connections of its own pool after a gateway
	// error, so that the next attempt dials afresh; it never does that to
	// a Base it was given.
	Base http.RoundTripper
	// Source gives the token for each request, sent as "Authorization:
	// Bearer <token>". nil means the request's own Authorization header is
	// used. A request that carries another scheme (Basic, for the token
	// endpoints) keeps it. A Source that is also a [Refresher] is asked for
	// another token when Notion answers 401.
	Source oauth2.TokenSource
	// Retry says how hard to try. The zero value means the defaults.
	Retry RetryPolicy
	// Pacing says how each token's rate budget is spent. The zero value
	// shares a pause per token and learns the budget; see [Pacing].
	Pacing Pacing
	// Clock is where every time the Transport reads or waits comes from.
	// nil means the system clock; tests can pass a manual one
	// (notiontest.Clock).
	Clock Clock
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

	once sync.Once
	st   *transportState
}

var _ http.RoundTripper = (*Transport)(nil)

// transportState is what a Transport sets up on first use and learns
// while it runs.
type transportState struct {
	clock   Clock
	seed    maphash.Seed
	base    http.RoundTripper
	own     *http.Transport // the pool made for a nil Base: the only one whose idle connections may be closed
	invalid error           // the configuration cannot be honoured
	pace    *paceConfig     // nil when pacing is off
	pacers  pacerTable
	bearer  atomic.Pointer[bearer] // the last token seen, ready to send
	latch   latch
	probes  singleflight.Group // keyed by token hash: one probe per token at a time
	budget  retryBudget
	counters
}

// bearer caches a token's header value, hash and pacers, so that the
// common case (one token, many calls) allocates nothing for them.
type bearer struct {
	auth [1]string // "Bearer " + token; auth[:] is the header's value, shared, never modified
	key  uint64
	pace *pacer // nil when pacing is off
	ws   *pacer // the pause of the token's workspace, when a Manager knows it; nil otherwise
}

// token is b's token.
func (b *bearer) token() string { return b.auth[0][len("Bearer "):] }

// newBearer makes the bearer of tok, with the pacer of its hash key (none
// for a token known to be revoked, which is never sent).
func (st *transportState) newBearer(tok string, key uint64) *bearer {
	b := &bearer{auth: [1]string{"Bearer " + tok}, key: key}
	if _, revoked := st.latch.get(key); !revoked && st.pace != nil {
		b.pace = st.pacers.get(key)
	}
	return b
}

func (t *Transport) state() *transportState {
	t.once.Do(func() {
		st := &transportState{seed: maphash.MakeSeed(), clock: t.Clock, base: t.Base}
		if st.clock == nil {
			st.clock = systemClock{}
		}
		if st.base == nil {
			if dt, ok := http.DefaultTransport.(*http.Transport); ok {
				st.own = dt.Clone()
				st.base = st.own
			} else {
				st.base = http.DefaultTransport // replaced by the app: used as is
			}
		}
		st.invalid = t.Retry.validate()
		if st.invalid == nil {
			st.invalid = t.Pacing.validate()
		}
		if !t.Pacing.Off && st.invalid == nil {
			st.pace = newPaceConfig(st.clock, t.Pacing)
			st.pacers.cfg = st.pace
		}
		t.st = st
	})
	return t.st
}

// bearerFor returns the bearer of tok, or nil and a description when tok
// cannot be sent in a header.
func (st *transportState) bearerFor(tok string) (*bearer, string) {
	if b := st.bearer.Load(); b != nil && b.token() == tok && (b.pace == nil || !b.pace.dead.Load()) {
		return b, ""
	}
	if msg := tokenProblem(tok); msg != "" {
		return nil, msg
	}
	b := st.newBearer(tok, maphash.String(st.seed, tok))
	st.bearer.Store(b)
	return b, ""
}

// tokenProblem says what makes tok impossible to send, or "" when nothing
// does. A token is printable ASCII without spaces; a newline at its end
// (a token read from a file) is the usual culprit.
func tokenProblem(tok string) string {
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == '\n' || c == '\r':
			return "the token contains a line break (read from a file with its newline?)"
		case c < 0x20 || c == 0x7f:
			return "the token contains a control character"
		case c == ' ' || c == '\t':
			return "the token contains a space"
		case c >= 0x80:
			return "the token contains a non-ASCII byte"
		}
	}
	return ""
}

// checkURL says what makes u impossible to send, or "" when nothing does.
func checkURL(u *url.URL) string {
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		return "the request URL needs an http or https scheme"
	case u.Host == "":
		return "the request URL has no host"
	}
	return ""
}

// RoundTrip sends req and classifies the answer; see [Transport]. It never
// modifies req, and it closes req.Body, also when it returns an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, nil)
}

// keySource is a Manager's grant as the calls it makes through the
// Manager's Transport see it: the token to send, kept ready so that a call
// allocates nothing for it; another token when Notion rejects it; the
// app's key, for errors and events; and what to do when the token is found
// revoked.
type keySource interface {
	Refresher
	bearer(now int64) (*bearer, *Error) // now on the Transport's pace clock, 0 when pacing is off
	name() string
	lost(ctx context.Context, token string, e *Error)
}

// roundTrip is RoundTrip for a call with the token of src (nil: Source's,
// or the request's own).
func (t *Transport) roundTrip(req *http.Request, src keySource) (*http.Response, error) {
	c := call{t: t, req: req, src: src}
	resp, e := c.run()
	if !c.handed {
		// The one place the body is closed: once it went to Base, Base
		// closes it.
		closeBody(req)
	}
	if e != nil {
		if src != nil {
			e.Key = src.name()
		}
		return nil, e
	}
	return resp, nil
}

// call is one RoundTrip: its request, its token and its attempts.
type call struct {
	t      *Transport
	st     *transportState
	req    *http.Request
	ctx    context.Context
	src    keySource // the Manager's grant the call is made for; nil: none
	tok    *bearer   // the token sent; nil when the request carries none
	auth   string    // the request's own Authorization header
	now    int64     // when the call began on the pace's clock; 0: not read
	tk     ticket    // the pace's ticket of the attempt in flight
	last   *Error    // the last attempt's failure
	n      int       // requests sent
	asked  int       // times the Refresher was asked for another token
	valid  bool      // a probe found tok valid during this call
	handed bool      // req.Body went to Base, which closes it
}

// run is the attempt loop: every attempt takes its turn, is sent, and ends
// in one verdict (return, wait and send again, or stop).
func (c *call) run() (*http.Response, *Error) {
	req := c.req
	if req == nil || req.URL == nil {
		return nil, &Error{Kind: InvalidRequest, Message: "request has no URL"}
	}
	c.st = c.t.state()
	c.ctx = req.Context()
	if c.st.invalid != nil {
		return nil, c.fail(InvalidRequest, c.st.invalid.Error(), nil)
	}
	if msg := checkURL(req.URL); msg != "" {
		return nil, c.fail(InvalidRequest, msg, nil)
	}
	if e := c.token(); e != nil {
		return nil, e
	}
	for {
		if e := c.turn(); e != nil {
			return nil, e
		}
		resp, e := c.send()
		if e == nil {
			return resp, nil
		}
		wait, stop := c.verdict(e)
		if stop != nil {
			return nil, stop
		}
		if !sleep(c.ctx, c.st.clock, wait) {
			return nil, c.ended()
		}
	}
}

// token picks the token to send, or fails the call when there is none
// that can be sent. A request without a bearer token gets none.
func (c *call) token() *Error {
	auth := headerValue(c.req.Header, "Authorization")
	c.auth = auth
	if c.src != nil {
		if c.st.pace != nil {
			c.now = c.st.pace.now() // read once, for the grant and the pace
		}
		b, e := c.src.bearer(c.now)
		if e != nil {
			return c.fromCause("cannot get the grant's token", e)
		}
		c.tok = b
		if code, ok := c.st.latch.get(b.key); ok {
			return revokedError(code, c.req)
		}
		return nil
	}
	var tok string
	if c.t.Source == nil || auth != "" && !hasBearerPrefix(auth) {
		if !hasBearerPrefix(auth) {
			return nil
		}
		if tok = strings.Trim(auth[len("Bearer"):], " "); tok == "" {
			return nil
		}
	} else {
		ot, err := c.t.Source.Token()
		if err != nil {
			return c.fromCause("cannot get a token from Source", err)
		}
		if ot == nil || ot.AccessToken == "" {
			return c.fail(InvalidRequest, "Source returned an empty token", nil)
		}
		tok = ot.AccessToken
	}
	return c.use(tok)
}

// use makes tok the call's token, unless it cannot be sent or is known to
// be revoked.
func (c *call) use(tok string) *Error {
	b, msg := c.st.bearerFor(tok)
	if b == nil {
		return c.fail(InvalidRequest, msg, nil)
	}
	c.tok = b
	if code, ok := c.st.latch.get(b.key); ok {
		return revokedError(code, c.req)
	}
	return nil
}

// turn waits for the token's turn to send.
func (c *call) turn() *Error {
	if c.ctx.Err() != nil {
		return c.ended()
	}
	if _, system := c.st.clock.(systemClock); !system {
		// A deadline passed on the Transport's clock, which may be ahead
		// of the system's (on the system's, ctx.Err says so already).
		if left, ok := leftBefore(c.ctx, c.st.clock.Now()); ok && left <= 0 {
			return c.ended()
		}
	}
	if c.tok == nil || c.tok.pace == nil {
		return nil
	}
	if ws := c.tok.ws; ws != nil && ws.until.Load() != 0 {
		// The workspace was paused once: wait for the pause, if it is
		// still in force (the pace holds nothing else for it).
		if _, waited, err := ws.acquire(c.ctx, c.t.Retry.maxWait()); err != nil {
			return c.waitError(err, waited)
		}
	}
	var tk ticket
	var waited time.Duration
	var err error
	if c.now != 0 && c.n == 0 {
		tk, waited, err = c.tok.pace.acquireAt(c.ctx, c.t.Retry.maxWait(), c.now)
	} else {
		tk, waited, err = c.tok.pace.acquire(c.ctx, c.t.Retry.maxWait())
	}
	if err != nil {
		return c.waitError(err, waited)
	}
	c.tk = tk
	if waited > 0 {
		c.st.waits.Add(1)
		c.st.waited.Add(int64(waited))
		c.emit(Event{Type: EventWait, Kind: Throttled, Attempt: c.n + 1, Wait: waited,
			Method: c.req.Method, Path: c.req.URL.Path})
	}
	return nil
}

// send sends the next attempt and classifies its answer. Per the
// RoundTripper contract req is never modified: when something must change
// (the header, a rewound body) a shallow copy is sent instead.
func (c *call) send() (*http.Response, *Error) {
	req, out := c.req, c.req
	b := c.tok
	setAuth := b != nil && (c.t.Source != nil || c.src != nil) && c.auth != b.auth[0]
	if setAuth || c.n > 0 {
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
		h["Authorization"] = b.auth[:]
		out.Header = h
	}
	if req.Body != nil && req.Body != http.NoBody {
		if c.n > 0 {
			body, err := req.GetBody()
			if err != nil {
				e := c.fail(InvalidRequest, "cannot rewind the request body to send it again", err)
				if c.last != nil {
					e.Kind = c.last.Kind
				}
				return nil, e
			}
			out.Body = body
		} else {
			c.handed = true
		}
	}
	actx, release := c.attemptContext()
	if release != nil {
		out = out.WithContext(actx)
	}
	c.n++
	c.st.requests.Add(1)
	resp, err := c.st.base.RoundTrip(out)
	if release != nil {
		release(err != nil)
	}
	if err == nil && resp.StatusCode < 300 {
		if b != nil && b.pace != nil {
			b.pace.done(c.tk, nil)
		}
		return resp, nil
	}
	if err != nil && actx.Err() != nil && c.ctx.Err() == nil {
		err = context.Cause(actx) // the deadline passed on the Transport's clock
	}
	e := c.failure(resp, err)
	if b != nil && b.pace != nil {
		b.pace.done(c.tk, e)
		if b.ws != nil && e.Reason == ReasonSpaceRateLimit {
			// The whole workspace is over its budget: every grant of it
			// waits.
			b.ws.done(ticket{}, e)
		}
	}
	if e.Kind == Throttled && e.StatusCode != 0 {
		c.st.throttled.Add(1)
		if b != nil && b.pace != nil && e.RetryAfter > 0 {
			c.emit(eventFor(EventPause, e, e.RetryAfter))
		}
	}
	c.last = e
	return nil, e
}

// attemptContext is the context of an attempt when the Transport's clock
// is not the system's: one that also ends when the call's deadline passes
// on that clock, with the function to call once the attempt is over
// (failed: it ended without a response, so the context can go). On the
// system clock the call's context does that already: it returns a nil
// function.
func (c *call) attemptContext() (context.Context, func(failed bool)) {
	if _, ok := c.st.clock.(systemClock); ok {
		return c.ctx, nil
	}
	left, ok := leftBefore(c.ctx, c.st.clock.Now())
	if !ok {
		return c.ctx, nil
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	stop := c.st.clock.AfterFunc(left, func() { cancel(context.DeadlineExceeded) })
	return ctx, func(failed bool) {
		stop()
		if failed {
			cancel(nil)
		}
		// A response's body is read with ctx: it stays open until c.ctx
		// ends.
	}
}

// failure turns a failed attempt (a response of 400 or more, or a
// transport error) into an *Error, reading and closing the response body.
func (c *call) failure(resp *http.Response, err error) *Error {
	req := c.req
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			out := *e // a notionauth Transport below this one already decided
			return &out
		}
		switch ctxErr := c.ctx.Err(); {
		case errors.Is(ctxErr, context.Canceled):
			return c.fail(Canceled, "the call was cancelled", ctxErr)
		case ctxErr != nil:
			err = ctxErr
		case !validHeaders(req.Header):
			return c.scrub(c.fail(InvalidRequest, "a request header has a name or value that cannot be sent", err))
		}
		return c.scrub(c.fail(Unavailable, "no response", err))
	}
	if resp.StatusCode < 400 {
		// Notion's API never redirects: something between the app and
		// Notion did (a captive portal, a proxy, a wrong host). Following
		// it would send the request elsewhere, and its Location may echo
		// what the request carried.
		drain(resp.Body)
		e := c.fail(Unavailable, "redirected ("+strconv.Itoa(resp.StatusCode)+"): the answer did not come from Notion's API", nil)
		e.StatusCode, e.Reason = resp.StatusCode, ReasonEdge
		return e
	}
	body, rerr := readBounded(resp.Body)
	resp.Body.Close()
	e := classify(resp.StatusCode, resp.Header, body, req.Method, req.URL.Path, req.URL.RawQuery, c.st.clock.Now())
	e.Attempts = c.n
	if rerr != nil {
		e.Err = rerr
	}
	return c.scrub(e)
}

// scrub removes the token the call sent from e, in whatever form an
// answer echoed it. It returns e.
func (c *call) scrub(e *Error) *Error {
	if c.tok == nil {
		return e
	}
	return newSecrets(c.tok.token()).scrubError(e)
}

// verdict decides what follows a failed attempt: a wait before the next
// one, or the error that ends the call.
func (c *call) verdict(e *Error) (time.Duration, *Error) {
	if e.Kind == AuthRevoked && e.StatusCode == http.StatusUnauthorized && !isOAuthPath(c.req.URL.Path) {
		return c.unauthorized(e)
	}
	return c.retry(e)
}

// emit reports ev, with the call's key.
func (c *call) emit(ev Event) {
	if c.t.OnEvent == nil && c.t.Logger == nil {
		return
	}
	if c.src != nil {
		ev.Key = c.src.name()
	}
	c.t.emit(c.ctx, ev)
}

// again reports that the call sends another attempt after wait, because
// of e (with reason, if not e's own).
func (c *call) again(e *Error, wait time.Duration, reason string) {
	c.st.retries.Add(1)
	ev := eventFor(EventRetry, e, wait)
	if reason != "" {
		ev.Reason = reason
	}
	c.emit(ev)
}

// mayResend reports whether another attempt may be sent at all: attempts
// left, the body rewindable, the context alive.
func (c *call) mayResend() bool {
	return c.n < c.t.Retry.maxAttempts() && rewindable(c.req) && c.ctx.Err() == nil
}

// ended is the error of a call whose context ended between attempts.
func (c *call) ended() *Error {
	err := c.ctx.Err()
	if err == nil {
		err = context.DeadlineExceeded // on the Transport's clock
	}
	if errors.Is(err, context.Canceled) {
		e := c.fail(Canceled, "the call was cancelled", err)
		if c.last != nil {
			e.Message = joinMessage("the call was cancelled after", c.last.summary())
		}
		return e
	}
	if c.last == nil {
		return c.fail(Unavailable, "the deadline passed before a request could be sent", err)
	}
	e := *c.last
	e.Err = errors.Join(e.Err, err)
	return &e
}

// waitError is the error of a call that could not wait its turn.
func (c *call) waitError(err error, wait time.Duration) *Error {
	e := c.fail(Throttled, "the token is paused by Notion's rate limit", nil)
	if errors.Is(err, context.Canceled) {
		e = c.ended()
		e.Message = joinMessage(e.Message, "while the token was paused by Notion's rate limit")
	}
	e.Reason, e.RetryAfter = ReasonPaced, wait
	if err != errWaitTooLong {
		e.Err = err
	}
	return e
}

// fail is an *Error about the call.
func (c *call) fail(kind Kind, msg string, err error) *Error {
	e := &Error{Kind: kind, Message: msg, Attempts: c.n, Err: err}
	if c.req != nil && c.req.URL != nil {
		e.Method, e.Path = c.req.Method, c.req.URL.Path
	}
	return e
}

// fromCause is the error of a call that failed because cause did (a
// Source, a Refresher, a store). It has cause's Kind; an *Error cause is
// folded into it, so that the result matches exactly one sentinel and says
// "notionauth:" once. A cause of no known kind is Unavailable.
func (c *call) fromCause(msg string, cause error) *Error {
	var pe *Error
	if errors.As(cause, &pe) {
		e := *pe
		e.Method, e.Path, e.Attempts = c.req.Method, c.req.URL.Path, c.n
		e.Message = joinMessage(msg, pe.summary())
		return c.scrub(&e)
	}
	kind := KindOf(cause)
	if kind == Unclassified {
		kind = Unavailable
	}
	return c.scrub(c.fail(kind, msg, cause))
}

// summary is e's Error() without the package prefix, for quoting it in
// another Error's message.
func (e *Error) summary() string {
	return strings.TrimPrefix(e.Error(), "notionauth: ")
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

// validHeaders reports whether net/http can send every header of h: names
// are tokens, values hold no control character but tab.
func validHeaders(h http.Header) bool {
	for k, vs := range h {
		if k == "" {
			return false
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
				return false
			}
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
					return false
				}
			}
		}
	}
	return true
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

// freshConnections makes the next attempt dial afresh, when the pool is
// the Transport's own: the connection that carried a gateway error may be
// stale (a run of 502s can follow one another on one keep-alive
// connection). A Base given by the app is left alone.
func (st *transportState) freshConnections() {
	if st.own != nil {
		st.own.CloseIdleConnections()
	}
}

// String describes t on one line, without a secret: the kinds of its Base,
// Source and Clock, its RetryPolicy and Pacing, and which hooks are set. It
// never reads Source (an oauth2.StaticTokenSource holds a token in the
// clear) nor anything t has learnt.
func (t *Transport) String() string {
	if t == nil {
		return "<nil>"
	}
	return fmt.Sprintf("notionauth.Transport{Base: %s, Source: %s, Retry: %+v, Pacing: %+v, Clock: %s, "+
		"OnAuthRevoked: %s, OnEvent: %s, Logger: %s}",
		typeOrNil(t.Base), typeOrNil(t.Source), t.Retry, t.Pacing, typeOrNil(t.Clock),
		setOrNil(t.OnAuthRevoked != nil), setOrNil(t.OnEvent != nil), setOrNil(t.Logger != nil))
}

// GoString is String, so that %#v is as safe.
func (t *Transport) GoString() string { return t.String() }

// Format prints t as String does for every verb.
func (t *Transport) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, t.String()) }

// MarshalJSON encodes String, so that a Transport in a JSON dump shows no
// secret either.
func (t *Transport) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// LogValue makes log/slog print String.
func (t *Transport) LogValue() slog.Value { return slog.StringValue(t.String()) }

// ClearPause ends the shared pause of token at once, if one is in force
// (see [Pacing]): its waiting requests are let through, and new ones are
// sent. What the Transport learnt of the token's budget stays. Use it when
// the app knows better than the answer that paused the token, for
// instance after an operator has checked that the workspace is back.
func (t *Transport) ClearPause(token string) {
	st := t.state()
	if st.pace == nil {
		return
	}
	if p := st.pacers.lookup(maphash.String(st.seed, token)); p != nil {
		p.clear()
	}
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
