// Package workload is the rate-limit workload shared by cmd/ratelimit and
// the bench tests: many calls from a few goroutines on one Notion token per
// client (or on many, spread round-robin), against notiontest with a
// per-token budget, measured from the client's side (time, latency,
// failures, connections) and from the fake's (requests received, 429s
// answered).
package workload

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jomei/notionapi"

	"github.com/notionauth/notionauth/notiontest"
)

// Config is one run of the workload. Zero fields take the defaults written
// on them.
type Config struct {
	Budget     int           // requests per Window per token, as the fake enforces it; 0: 60
	Window     time.Duration // the fake's window; 0: 2s
	Calls      int           // calls per client; 0: 6 windows' worth (6 × Budget × Tokens)
	Goroutines int           // concurrent callers per client; 0: 16
	Attempts   int           // requests each client may send per call, the first included; 0: 20
	// Tokens is how many tokens each client spreads its calls over,
	// round-robin (call i uses token i mod Tokens), each with its own
	// budget at the fake, all through the client's one RoundTripper stack.
	// 0 means 1: one token per client.
	Tokens int
	// Concurrent runs the clients at the same time, each on tokens of its
	// own (budgets are per token, so they do not compete for one), instead
	// of one after another.
	Concurrent bool
	// WholeSeconds makes the fake send Retry-After in whole seconds only,
	// as Notion does. Off (the default), it also sends the wait in
	// milliseconds in additional_data.retry_after
	// (notiontest.RateLimit.PreciseRetryAfter), so that a window of a few
	// seconds keeps Notion's relative precision for the clients that read it.
	WholeSeconds bool
	// CallTimeout is the deadline of each call (context.WithTimeout); 0: none.
	CallTimeout time.Duration
	// RunTimeout bounds the whole run; calls still running then fail; 0: 5m.
	RunTimeout time.Duration
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Budget = cmp.Or(c.Budget, 60)
	c.Window = cmp.Or(c.Window, 2*time.Second)
	c.Tokens = cmp.Or(c.Tokens, 1)
	c.Calls = cmp.Or(c.Calls, 6*c.Budget*c.Tokens)
	c.Goroutines = cmp.Or(c.Goroutines, 16)
	c.Attempts = cmp.Or(c.Attempts, 20)
	c.RunTimeout = cmp.Or(c.RunTimeout, 5*time.Minute)
	return c
}

func (c Config) validate() error {
	switch {
	case c.Budget < 1, c.Window <= 0, c.Calls < 1, c.Goroutines < 1, c.Attempts < 1, c.Tokens < 1, c.RunTimeout <= 0:
		return fmt.Errorf("workload: invalid config %+v: every value must be positive", c)
	case c.CallTimeout < 0:
		return fmt.Errorf("workload: invalid config %+v: CallTimeout must be 0 (none) or positive", c)
	}
	return nil
}

// Rate is the budget of one client, all its tokens together, in requests
// per second.
func (c Config) Rate() float64 {
	return float64(c.Budget) * float64(max(c.Tokens, 1)) / c.Window.Seconds()
}

// IdealWall is the shortest possible run: the busiest token has
// ceil(Calls/Tokens) calls, which need ceil(that/Budget) windows, and the
// last one need not be waited out.
func (c Config) IdealWall() time.Duration {
	tokens := max(c.Tokens, 1)
	perToken := (c.Calls + tokens - 1) / tokens
	windows := (perToken + c.Budget - 1) / c.Budget
	return time.Duration(windows-1) * c.Window
}

// Result is what one client achieved.
type Result struct {
	Peer      string
	Setup     string
	Calls     int
	OK        int
	Failed    int
	Wall      time.Duration // from the first call's start to the last call's end
	Goodput   float64       // successful calls per second, as a percentage of the budget's rate
	Tokens    int           // tokens the client spread its calls over
	Sent      int           // requests the fake received with this client's tokens
	Throttled int           // of those, answered 429
	// Later counts the 429s that came more than a window after the first
	// 429 of the same token (after that token's first throttled window),
	// summed over the client's tokens.
	Later int
	// TokensLater is how many of the client's tokens met any such later 429.
	TokensLater int
	Conns       int64         // TCP connections the client opened
	Leaked      int64         // of those, still open once every call had returned and idle ones were closed
	P50, P99    time.Duration // latency of the successful calls, waits included
	Errors      []ErrorCount  // failures grouped by message, most frequent first
	Detail      string        // what the client itself reports, if anything
}

// ErrorCount is how often calls failed with one message.
type ErrorCount struct {
	Message string // with ids replaced by {id}
	Count   int
}

// leakWait is how long Run waits for connections on their way back to the
// pool before it counts those still open as leaked.
const leakWait = 250 * time.Millisecond

// fixtures are the objects every call reads.
type fixtures struct {
	page, database string
}

// Run runs the workload once for each peer, against a notiontest server
// with RateLimit{Budget, Window, PreciseRetryAfter: !WholeSeconds}, each
// peer on cfg.Tokens tokens of its own over a connection-counting
// [Redirect] of its own. It returns an error only when the run cannot be
// set up; how well a peer does is in its Result.
func Run(ctx context.Context, cfg Config, peers []Peer) ([]Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(peers) == 0 {
		return nil, errors.New("workload: no peers")
	}
	srv := notiontest.NewServer()
	defer srv.Close()
	srv.SetRateLimit(notiontest.RateLimit{Budget: cfg.Budget, Window: cfg.Window, PreciseRetryAfter: !cfg.WholeSeconds})
	fx := putFixtures(srv)

	type run struct {
		peer    Peer
		tokens  []string
		rt      *Redirect
		clients []*notionapi.Client
		detail  func() string
		res     Result
	}
	runs := make([]*run, len(peers))
	for i, p := range peers {
		if p.New == nil {
			return nil, fmt.Errorf("workload: peer %q has no New", p.Name)
		}
		rt, err := NewRedirect(srv.URL)
		if err != nil {
			return nil, err
		}
		defer rt.CloseIdleConnections()
		tokens := make([]string, cfg.Tokens)
		for j := range tokens {
			tokens[j] = srv.NewToken()
		}
		srv.Share(fx.page, tokens...)
		clients, detail := p.New(tokens, rt, cfg)
		if len(clients) != len(tokens) || slices.Contains(clients, nil) {
			return nil, fmt.Errorf("workload: peer %q built %d clients for %d tokens", p.Name, len(clients), len(tokens))
		}
		runs[i] = &run{peer: p, tokens: tokens, rt: rt, clients: clients, detail: detail}
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	if cfg.Concurrent {
		var wg sync.WaitGroup
		for _, r := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.res = drive(ctx, r.clients, cfg, fx)
				r.res.Leaked = r.rt.Leaked(leakWait)
			}()
		}
		wg.Wait()
	} else {
		for _, r := range runs {
			r.res = drive(ctx, r.clients, cfg, fx)
			r.res.Leaked = r.rt.Leaked(leakWait)
		}
	}

	// One pass over the log: each request is counted for the token (and
	// so the run) that sent it.
	type tokenStat struct {
		run       int
		first429  time.Time
		later     int
		throttled bool
	}
	byHash := make(map[string]*tokenStat, len(runs)*cfg.Tokens)
	for i, r := range runs {
		for _, tok := range r.tokens {
			byHash[notiontest.TokenHash(tok)] = &tokenStat{run: i}
		}
	}
	for _, req := range srv.Requests() {
		ts := byHash[req.TokenHash]
		if ts == nil {
			continue
		}
		res := &runs[ts.run].res
		res.Sent++
		if req.Status != 429 {
			continue
		}
		res.Throttled++
		if !ts.throttled {
			ts.throttled, ts.first429 = true, req.Time
		} else if req.Time.Sub(ts.first429) > cfg.Window {
			ts.later++
		}
	}
	for _, ts := range byHash {
		if ts.later > 0 {
			res := &runs[ts.run].res
			res.Later += ts.later
			res.TokensLater++
		}
	}

	out := make([]Result, len(runs))
	for i, r := range runs {
		res := r.res
		res.Peer, res.Setup = r.peer.Name, r.peer.Setup
		res.Tokens = len(r.tokens)
		res.Conns = r.rt.Dials()
		if res.Wall > 0 {
			res.Goodput = float64(res.OK) / res.Wall.Seconds() / cfg.Rate() * 100
		}
		if r.detail != nil {
			res.Detail = r.detail()
		}
		out[i] = res
	}
	return out, nil
}

// putFixtures adds a shared-able page with a few blocks and a database
// with a few rows, all under the page.
func putFixtures(srv *notiontest.Server) fixtures {
	page := srv.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
	for _, text := range []string{"first paragraph", "second paragraph", "third paragraph"} {
		srv.Put(notiontest.Object{Type: notiontest.Block, Parent: page, Title: text})
	}
	database := srv.Put(notiontest.Object{Type: notiontest.Database, Parent: page, Title: "Tasks"})
	for _, title := range []string{"Plan", "Build", "Ship"} {
		srv.Put(notiontest.Object{Type: notiontest.Page, Parent: database, Title: title})
	}
	return fixtures{page: page, database: database}
}

// op is one kind of call.
type op func(ctx context.Context, c *notionapi.Client, fx fixtures) error

// mix is the order calls cycle through: three reads (GET) for each
// read-only POST.
var mix = []op{
	pageGet, childrenGet, pageGet, search,
	childrenGet, pageGet, childrenGet, databaseQuery,
}

func pageGet(ctx context.Context, c *notionapi.Client, fx fixtures) error {
	_, err := c.Page.Get(ctx, notionapi.PageID(fx.page))
	return err
}

func childrenGet(ctx context.Context, c *notionapi.Client, fx fixtures) error {
	_, err := c.Block.GetChildren(ctx, notionapi.BlockID(fx.page), nil)
	return err
}

func search(ctx context.Context, c *notionapi.Client, _ fixtures) error {
	_, err := c.Search.Do(ctx, &notionapi.SearchRequest{Query: "Roadmap"})
	return err
}

func databaseQuery(ctx context.Context, c *notionapi.Client, fx fixtures) error {
	_, err := c.Database.Query(ctx, notionapi.DatabaseID(fx.database), &notionapi.DatabaseQueryRequest{})
	return err
}

// drive makes cfg.Calls calls from cfg.Goroutines goroutines, call i with
// clients[i mod len(clients)], each under cfg.CallTimeout if set.
func drive(ctx context.Context, clients []*notionapi.Client, cfg Config, fx fixtures) Result {
	var (
		next   atomic.Int64
		mu     sync.Mutex // guards the fields below
		lat    []time.Duration
		failed int
		errs   = map[string]int{}
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range cfg.Goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Calls {
					break
				}
				t0 := time.Now()
				err := call(ctx, mix[i%len(mix)], clients[i%len(clients)], cfg.CallTimeout, fx)
				d := time.Since(t0)
				if err == nil {
					mine = append(mine, d)
					continue
				}
				msg := errorMessage(err)
				mu.Lock()
				failed++
				errs[msg]++
				mu.Unlock()
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := Result{Calls: cfg.Calls, OK: len(lat), Failed: failed, Wall: time.Since(start)}
	slices.Sort(lat)
	res.P50, res.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	for msg, n := range errs {
		res.Errors = append(res.Errors, ErrorCount{Message: msg, Count: n})
	}
	slices.SortFunc(res.Errors, func(a, b ErrorCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Message, b.Message))
	})
	return res
}

// call makes one call, under a deadline of timeout when it is positive.
func call(ctx context.Context, o op, c *notionapi.Client, timeout time.Duration, fx fixtures) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return o(ctx, c, fx)
}

// percentile is the nearest-rank percentile of sorted; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

var idPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}`)

// errorMessage is err's message with ids replaced, so that failures group,
// cut to a readable length.
func errorMessage(err error) string {
	msg := idPattern.ReplaceAllString(err.Error(), "{id}")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return fmt.Sprintf("%T: %s", err, msg)
}
