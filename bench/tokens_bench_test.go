package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
)

// What a Transport costs per token, for an app that serves many
// workspaces through one Transport (no Source: each request carries its
// own "Authorization: Bearer <token>"). Everything runs over stub bases,
// with no network.

// The manual clock of notiontest is a notionauth.Clock: the same one can be
// given to a Transport and to a notiontest.Server.
var _ notionauth.Clock = (*notiontest.Clock)(nil)

// memTokens is how many distinct tokens the memory figures push through
// one Transport.
const memTokens = 100_000

// tokenRequest returns a GET of the bench page with "Authorization: Bearer
// tok", a request of its own (its header is not shared with any other).
func tokenRequest(ctx context.Context, tok string) *http.Request {
	u := pageURL // a copy for each request
	return (&http.Request{
		Method: http.MethodGet,
		URL:    &u,
		Host:   u.Host,
		Header: http.Header{
			"Authorization":  {"Bearer " + tok},
			"Notion-Version": {notionauth.DefaultNotionVersion},
		},
	}).WithContext(ctx)
}

var pageURL = func() url.URL {
	r, err := http.NewRequest(http.MethodGet, "https://api.notion.com/v1/pages/"+benchPageID, nil)
	if err != nil {
		panic(err) // a constant URL
	}
	return *r.URL
}()

// tokens makes distinct tokens cheaply: prefix and a counter.
type tokens struct {
	prefix string
	buf    []byte
	n      int
}

func (t *tokens) next() string {
	t.buf = strconv.AppendInt(append(t.buf[:0], t.prefix...), int64(t.n), 10)
	t.n++
	return string(t.buf)
}

// okBase answers every request with a canned 200, as stubBase does, and
// counts them.
type okBase struct {
	calls atomic.Int64
	resp  *http.Response
}

func newOKBase() *okBase {
	return &okBase{resp: &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
}

func (b *okBase) RoundTrip(*http.Request) (*http.Response, error) {
	b.calls.Add(1)
	return b.resp, nil
}

// BenchmarkNewToken is the cost of a request with a token the Transport
// has never seen, once it has already served a first request for each of
// N other tokens. The figure should not grow with N. Two of the
// allocations per op are the benchmark's own: the token string and the
// request (with its header) that carries it.
func BenchmarkNewToken(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			base := newOKBase()
			tr := &notionauth.Transport{Base: base}
			ctx := context.Background()
			seen := &tokens{prefix: "ntn_seen_"}
			for range n {
				if _, err := tr.RoundTrip(tokenRequest(ctx, seen.next())); err != nil {
					b.Fatal(err)
				}
			}
			fresh := &tokens{prefix: "ntn_"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.RoundTrip(tokenRequest(ctx, fresh.next())); err != nil {
					b.Fatal(err)
				}
			}
			if got, want := base.calls.Load(), int64(n+b.N); got != want {
				b.Fatalf("base calls: got %d, want %d (one per request)", got, want)
			}
		})
	}
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// retainedPerToken pushes n distinct tokens through a fresh Transport over
// base, one request each, and reports the heap the Transport retains per
// token. OnAuthRevoked, if not nil, is set on the Transport. It returns the
// Transport, for more requests.
func retainedPerToken(tb testing.TB, base http.RoundTripper, n int, prefix string,
	onRevoked func(context.Context, *notionauth.Error), check func(i int, err error)) (float64, *notionauth.Transport) {
	tb.Helper()
	tr := &notionauth.Transport{Base: base, OnAuthRevoked: onRevoked}
	toks := &tokens{prefix: prefix}
	before := heapAlloc()
	for i := range n {
		ctx := context.WithValue(context.Background(), tokenIndex{}, i)
		resp, err := tr.RoundTrip(tokenRequest(ctx, toks.next()))
		if err == nil {
			resp.Body.Close()
		}
		check(i, err)
	}
	after := heapAlloc()
	runtime.KeepAlive(tr)
	return float64(after-before) / float64(n), tr
}

// tokenIndex is the context key of a request's token number, so that
// OnAuthRevoked can tell which token it is called for.
type tokenIndex struct{}

// BenchmarkTokenMemory reports the heap one Transport retains per token
// after 100000 distinct tokens went through it, one request each: "live"
// tokens answered 200 (B/token), and "revoked" tokens, each confirmed
// revoked by a 401 and a probe answering 401 (B/revoked-token). The fill
// runs once, before the timer starts; the op is then one more request with
// one of those tokens, in turn: for live tokens the steady-state cost with
// 100000 of them in play, for revoked ones the cost of a call that should
// fail at once, sending nothing (base-calls/op says whether it did).
func BenchmarkTokenMemory(b *testing.B) {
	b.Run("live", func(b *testing.B) {
		base := newOKBase()
		per, tr := retainedPerToken(b, base, memTokens, "ntn_", nil, func(_ int, err error) {
			if err != nil {
				b.Fatal(err)
			}
		})
		again(b, tr, &base.calls, func(err error) {
			if err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(per, "B/token") // after the loop, whose start clears metrics
	})
	b.Run("revoked", func(b *testing.B) {
		base := &revokedBase{}
		isRevoked := func(err error) {
			if !errors.Is(err, notionauth.ErrAuthRevoked) {
				b.Fatalf("got %v, want ErrAuthRevoked", err)
			}
		}
		per, tr := retainedPerToken(b, base, memTokens, "ntn_", func(context.Context, *notionauth.Error) {},
			func(_ int, err error) { isRevoked(err) })
		again(b, tr, &base.calls, isRevoked)
		b.ReportMetric(per, "B/revoked-token")
	})
}

// again is the timed loop of BenchmarkTokenMemory: one request per op with
// the tokens retainedPerToken used, in turn. It reports the base calls per
// op.
func again(b *testing.B, tr *notionauth.Transport, calls *atomic.Int64, check func(error)) {
	ctx := context.Background()
	toks := &tokens{prefix: "ntn_"}
	before := calls.Load()
	b.ReportAllocs()
	for b.Loop() {
		if toks.n == memTokens {
			toks.n = 0
		}
		resp, err := tr.RoundTrip(tokenRequest(ctx, toks.next()))
		if err == nil {
			resp.Body.Close()
		}
		check(err)
	}
	b.ReportMetric(float64(calls.Load()-before)/float64(b.N), "base-calls/op")
}

// revokedBase answers every request, the Transport's probe (GET
// /v1/users/me) included, with Notion's 401 for a revoked token, and
// counts them.
type revokedBase struct{ calls atomic.Int64 }

func (b *revokedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	n := b.calls.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(n>>48), n&0xffffffffffff)
	body := `{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid.","request_id":"` + id + `"}`
	return &http.Response{
		StatusCode: http.StatusUnauthorized,
		Header: http.Header{
			"Content-Type":        {"application/json; charset=utf-8"},
			"X-Notion-Request-Id": {id},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// TestRevokedTokensRemembered pushes 100000 distinct tokens, each one
// revoked, through one Transport: each is confirmed (a 401 and a probe
// answering 401), OnAuthRevoked is called exactly once per token, and a
// second call with any of them fails with ErrAuthRevoked without sending
// anything. It logs the heap retained per revoked token.
//
// It takes about a minute against today's Transport (which scans all its
// paces for every new token past 4096), so -short skips it, and so does the
// race detector, which would make it ten times slower: its calls are
// sequential.
func TestRevokedTokensRemembered(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("pushes 100000 tokens through a Transport, one call at a time: not under -short or -race")
	}
	n := memTokens
	start := time.Now()
	base := &revokedBase{}
	revoked := make([]atomic.Int32, n) // OnAuthRevoked calls per token
	var unattributed atomic.Int32
	onRevoked := func(ctx context.Context, e *notionauth.Error) {
		if i, ok := ctx.Value(tokenIndex{}).(int); ok && i >= 0 && i < len(revoked) {
			revoked[i].Add(1)
			return
		}
		unattributed.Add(1)
	}
	var firstBad error
	bad := 0
	checkRevoked := func(_ int, err error) {
		if !errors.Is(err, notionauth.ErrAuthRevoked) {
			if bad == 0 {
				firstBad = err
			}
			bad++
		}
	}

	per, tr := retainedPerToken(t, base, n, "ntn_", onRevoked, checkRevoked)
	firstPass := base.calls.Load()
	require.Zero(t, bad, "first pass: calls not failing with ErrAuthRevoked: got %d, want 0; first: %v", bad, firstBad)

	toks := &tokens{prefix: "ntn_"}
	for i := range n {
		ctx := context.WithValue(context.Background(), tokenIndex{}, i)
		_, err := tr.RoundTrip(tokenRequest(ctx, toks.next()))
		checkRevoked(i, err)
	}
	secondPass := base.calls.Load() - firstPass

	once, never, more := 0, 0, 0
	for i := range revoked {
		switch revoked[i].Load() {
		case 0:
			never++
		case 1:
			once++
		default:
			more++
		}
	}
	t.Logf("%d revoked tokens through one Transport in %v: %.0f B/revoked-token retained; "+
		"first pass sent %d requests (%.2f per token), second pass sent %d; "+
		"OnAuthRevoked once for %d tokens, more than once for %d, never for %d, unattributed %d",
		n, time.Since(start).Round(time.Millisecond), per, firstPass, float64(firstPass)/float64(n),
		secondPass, once, more, never, unattributed.Load())

	assert.Zero(t, bad, "second pass: calls not failing with ErrAuthRevoked: got %d, want 0; first: %v", bad, firstBad)
	assert.Equal(t, int64(2*n), firstPass, "first pass: base calls (the call and its probe, per token)")
	assert.Zero(t, secondPass, "second pass: base calls for tokens already confirmed revoked")
	assert.Equal(t, n, once, "tokens whose OnAuthRevoked was called exactly once: got %d, want %d "+
		"(%d more than once, %d never)", once, n, more, never)
	assert.Zero(t, unattributed.Load(), "OnAuthRevoked calls for no known token")
}

// BenchmarkSuccessPathParallel is BenchmarkSuccessPath from 64 goroutines
// at once (b.SetParallelism(64 / GOMAXPROCS)), all through one
// RoundTripper with the same token: what the layer costs under contention.
func BenchmarkSuccessPathParallel(b *testing.B) {
	const goroutines = 64
	base := stubBase{&http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
	for _, l := range layers() {
		b.Run(l.name, func(b *testing.B) {
			rt := l.wrap(base)
			req := benchRequest(b, "https://api.notion.com")
			b.SetParallelism(max(1, (goroutines+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
