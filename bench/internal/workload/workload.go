// Package workload is the rate-limit workload shared by cmd/ratelimit and
// the bench tests: many calls from a few goroutines on one Notion token per
// client, against notiontest with a per-token budget, measured from the
// client's side (time, latency, failures, connections) and from the fake's
// (requests received, 429s answered).
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
	Calls      int           // calls per client; 0: 6 windows' worth (6 × Budget)
	Goroutines int           // concurrent callers per client; 0: 16
	Attempts   int           // requests each client may send per call, the first included; 0: 20
	// Concurrent runs the clients at the same time, each on its own token
	// (budgets are per token, so they do not compete for one), instead of
	// one after another.
	Concurrent bool
	Timeout    time.Duration // bound on the whole run; calls still running then fail; 0: 5m
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Budget = cmp.Or(c.Budget, 60)
	c.Window = cmp.Or(c.Window, 2*time.Second)
	c.Calls = cmp.Or(c.Calls, 6*c.Budget)
	c.Goroutines = cmp.Or(c.Goroutines, 16)
	c.Attempts = cmp.Or(c.Attempts, 20)
	c.Timeout = cmp.Or(c.Timeout, 5*time.Minute)
	return c
}

func (c Config) validate() error {
	switch {
	case c.Budget < 1, c.Window <= 0, c.Calls < 1, c.Goroutines < 1, c.Attempts < 1, c.Timeout <= 0:
		return fmt.Errorf("workload: invalid config %+v: every value must be positive", c)
	}
	return nil
}

// Rate is the budget in requests per second.
func (c Config) Rate() float64 { return float64(c.Budget) / c.Window.Seconds() }

// IdealWall is the shortest possible run: Calls need ceil(Calls/Budget)
// windows, and the last one need not be waited out.
func (c Config) IdealWall() time.Duration {
	windows := (c.Calls + c.Budget - 1) / c.Budget
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
	Sent      int           // requests the fake received with this client's token
	Throttled int           // of those, answered 429
	Later     int           // of those 429s, the ones more than a window after the first (after the first throttled window)
	Conns     int64         // TCP connections the client opened
	Leaked    int64         // of those, still open once every call had returned and idle ones were closed
	P50, P99  time.Duration // latency of the successful calls, waits included
	Errors    []ErrorCount  // failures grouped by message, most frequent first
	Detail    string        // what the client itself reports, if anything
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
// with RateLimit{Budget, Window, PreciseRetryAfter: true}, each peer on a
// token of its own over a connection-counting [Redirect] of its own. It
// returns an error only when the run cannot be set up; how well a peer does
// is in its Result.
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
	srv.SetRateLimit(notiontest.RateLimit{Budget: cfg.Budget, Window: cfg.Window, PreciseRetryAfter: true})
	fx := putFixtures(srv)

	type run struct {
		peer   Peer
		token  string
		rt     *Redirect
		client *notionapi.Client
		detail func() string
		res    Result
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
		token := srv.NewToken()
		srv.Share(fx.page, token)
		client, detail := p.New(token, rt, cfg)
		if client == nil {
			return nil, fmt.Errorf("workload: peer %q built no client", p.Name)
		}
		runs[i] = &run{peer: p, token: token, rt: rt, client: client, detail: detail}
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.Concurrent {
		var wg sync.WaitGroup
		for _, r := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.res = drive(ctx, r.client, cfg, fx)
				r.res.Leaked = r.rt.Leaked(leakWait)
			}()
		}
		wg.Wait()
	} else {
		for _, r := range runs {
			r.res = drive(ctx, r.client, cfg, fx)
			r.res.Leaked = r.rt.Leaked(leakWait)
		}
	}

	log := srv.Requests()
	out := make([]Result, len(runs))
	for i, r := range runs {
		res := r.res
		res.Peer, res.Setup = r.peer.Name, r.peer.Setup
		res.Conns = r.rt.Dials()
		hash := notiontest.TokenHash(r.token)
		var first time.Time
		for _, req := range log {
			if req.TokenHash != hash {
				continue
			}
			res.Sent++
			if req.Status != 429 {
				continue
			}
			res.Throttled++
			if first.IsZero() {
				first = req.Time
			} else if req.Time.Sub(first) > cfg.Window {
				res.Later++
			}
		}
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

// drive makes cfg.Calls calls with client from cfg.Goroutines goroutines.
func drive(ctx context.Context, client *notionapi.Client, cfg Config, fx fixtures) Result {
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
				err := mix[i%len(mix)](ctx, client, fx)
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
