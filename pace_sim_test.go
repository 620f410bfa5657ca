package notionauth

import (
	"context"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

// fixedWindow is Notion's per-connection limit as notion.md describes it,
// on a clock: a window starts at the first request after the last one
// ended, admits budget requests, and answers the rest 429 with Retry-After
// in whole seconds, rounded up.
type fixedWindow struct {
	clk    Clock
	budget int
	window time.Duration

	rtt      time.Duration // the round trip of every request, give or take a third
	dials    atomic.Int64  // requests left that open a connection first
	inFlight atomic.Int64  // requests on their way, waiting on clk
	rand     *rand.Rand    // for the jitter; guarded by mu

	mu       sync.Mutex // guards the fields below
	start    time.Time
	used     int
	ok       int
	rejected []time.Time // when each 429 was answered
}

func (f *fixedWindow) RoundTrip(r *http.Request) (*http.Response, error) {
	// Half the round trip on the way there, half on the way back. The
	// first requests open their connections: a TCP and a TLS handshake
	// first, two more round trips.
	out := f.rtt / 2
	if f.dials.Add(-1) >= 0 {
		out += 2 * f.rtt
	}
	f.travel(out)
	defer f.travel(f.rtt / 2)
	now := f.clk.Now()
	f.mu.Lock()
	if f.start.IsZero() || now.Sub(f.start) >= f.window {
		f.start, f.used = now, 0
	}
	if f.used < f.budget {
		f.used++
		f.ok++
		f.mu.Unlock()
		resp, _ := reply(r, 200, `{"object":"page"}`)
		return resp, nil
	}
	left := f.start.Add(f.window).Sub(now)
	f.rejected = append(f.rejected, now)
	f.mu.Unlock()
	secs := int((left + time.Second - 1) / time.Second)
	resp, _ := reply(r, 429, `{"object":"error","status":429,"code":"rate_limited","message":"slow down",`+
		`"request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a","additional_data":{"rate_limit_reason":"public_api_request_rate_limit"}}`)
	resp.Header.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return resp, nil
}

// travel waits d on the clock, give or take a third.
func (f *fixedWindow) travel(d time.Duration) {
	if d == 0 {
		return
	}
	f.mu.Lock()
	d += time.Duration((f.rand.Float64()*2 - 1) * float64(d) / 3)
	f.mu.Unlock()
	// Counted only while its timer is set, so that whoever moves the
	// clock never sees a request counted that no timer will wake.
	ch := make(chan struct{})
	f.clk.AfterFunc(d, func() {
		f.inFlight.Add(-1)
		close(ch)
	})
	f.inFlight.Add(1)
	<-ch
}

// TestPacingAtNotionsScale is the worker pool of a real app against
// Notion's real limit: 180 requests per 60 s window, whole-second
// Retry-After, 16 workers, 541 calls, each with a 60 s deadline. Every
// call must succeed, the budget must be spent (98% or more of it), and
// 429s may come only in the first window, while the budget is learnt.
// It runs on a manual clock, so four minutes take a moment; the clock
// moves only when every worker is waiting on it.
func TestPacingAtNotionsScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		budget, calls int
		workers       int
		rtt           time.Duration
	}{
		{"180 a minute, 16 workers, 100 ms away", 180, 541, 16, 100 * time.Millisecond},
		{"180 a minute, 16 workers, on loopback", 180, 541, 16, time.Millisecond},
		{"600 a minute, 64 workers, 50 ms away", 600, 1801, 64, 50 * time.Millisecond},
		{"180 a minute, 48 workers, 100 ms away", 180, 541, 48, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const window = time.Minute
			clk := notiontest.NewClock(time.Time{})
			notion := &fixedWindow{clk: clk, budget: tc.budget, window: window, rtt: tc.rtt,
				rand: rand.New(rand.NewPCG(1, uint64(tc.workers)))}
			notion.dials.Store(int64(tc.workers))
			tr := &Transport{Base: notion, Source: static(testToken), Clock: clk}

			var next, failed, inCall, done atomic.Int64
			var wg sync.WaitGroup
			begin := clk.Now()
			var last atomic.Int64 // when the last call ended, on clk
			for range tc.workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(tc.calls) {
						inCall.Add(1)
						started := clk.Now()
						ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(60*time.Second))
						_, err := tr.RoundTrip(getPage(t).WithContext(ctx))
						cancel()
						if err != nil {
							if failed.Add(1) <= 3 {
								t.Logf("call failed at %v (started %v): %v", clk.Now().Sub(begin), started.Sub(begin), err)
							}
						}
						last.Store(int64(clk.Now().Sub(begin)))
						inCall.Add(-1)
						done.Add(1)
					}
				}()
			}
			// Move the clock only when every call in progress waits for
			// its token's turn: then nothing else can happen until the
			// clock moves.
			b, _ := tr.state().bearerFor(testToken)
			for done.Load() < int64(tc.calls) {
				if n := inCall.Load(); n > 0 && int64(b.pace.waiting.Load())+notion.inFlight.Load() == n {
					_, moved := clk.AdvanceToNext()
					require.True(t, moved, "%d calls wait, and no timer would wake them", n)
					continue
				}
				runtime.Gosched()
			}
			wg.Wait()

			wall := time.Duration(last.Load())
			rate := float64(tc.budget) / window.Seconds()
			windows := (tc.calls + tc.budget - 1) / tc.budget
			ideal := time.Duration(windows-1) * window
			goodput := float64(tc.calls) / wall.Seconds() / rate
			idealGoodput := float64(tc.calls) / ideal.Seconds() / rate
			t.Logf("%d calls in %v (ideal %v): %.1f%% of the budget (ideal %.1f%%), %d failed, %d 429s, learnt budget %d",
				tc.calls, wall.Round(time.Millisecond), ideal, goodput*100, idealGoodput*100, failed.Load(), len(notion.rejected), b.pace.limit.Load())
			assert.Zero(t, failed.Load(), "failed calls")
			assert.GreaterOrEqual(t, goodput, 0.98*idealGoodput, "share of the budget spent")
			require.NotEmpty(t, notion.rejected, "the first window teaches the budget")
			if testing.Verbose() {
				buckets := map[int]int{}
				for _, at := range notion.rejected {
					buckets[int(at.Sub(begin)/(100*time.Millisecond))]++
				}
				t.Logf("429s per 100 ms: %v", buckets)
			}
			for _, at := range notion.rejected {
				assert.Less(t, at.Sub(notion.rejected[0]), window, "a 429 after the first window, at %v", at.Sub(begin))
			}
			assert.EqualValues(t, tc.budget, b.pace.limit.Load(), "the budget learnt")
		})
	}
}
