package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/bench/internal/workload"
)

// TestRateLimitWorkload runs cmd/ratelimit's workload with tiny parameters,
// so that CI exercises the harness, and checks what notionauth promises:
// no failed call, 429s only in the first throttled window (one per
// goroutine in flight at most), no more 429s than either peer, and no
// connection leaked or lost to a 429. It asserts no timing.
func TestRateLimitWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the workload for a few seconds")
	}
	cfg := workload.Config{
		Budget:     10,
		Window:     500 * time.Millisecond,
		Calls:      40,
		Goroutines: 8,
		Attempts:   20,
		// Budgets are per token: running the clients side by side keeps
		// the test short without making them compete.
		Concurrent: true,
		RunTimeout: 60 * time.Second,
	}
	peers := workload.Peers()
	results, err := workload.Run(context.Background(), cfg, peers)
	require.NoError(t, err)
	require.Len(t, results, len(peers), "a result for every client")

	byName := map[string]workload.Result{}
	for _, r := range results {
		t.Logf("%-20s wall %v, ok %d, failed %d, 429s %d, sent %d, conns %d (%d leaked), p50 %v, p99 %v; %s",
			r.Peer, r.Wall.Round(time.Millisecond), r.OK, r.Failed, r.Throttled, r.Sent, r.Conns, r.Leaked,
			r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Detail)
		for _, e := range r.Errors {
			t.Logf("%-20s %d× %s", r.Peer, e.Count, e.Message)
		}
		assert.Equal(t, cfg.Calls, r.OK+r.Failed, "%s: every call ends, in success or failure", r.Peer)
		assert.Positive(t, r.Sent, "%s: the fake saw its requests", r.Peer)
		byName[r.Peer] = r
	}

	na, ok := byName[workload.NotionAuth().Name]
	require.True(t, ok, "notionauth has a result")
	assert.Zero(t, na.Failed, "notionauth: failed calls; errors: %v", na.Errors)
	assert.Equal(t, cfg.Calls, na.OK)
	assert.LessOrEqual(t, na.Throttled, cfg.Goroutines,
		"notionauth: 429s; only the first throttled window may see them, one per goroutine in flight")
	assert.Zero(t, na.Later, "notionauth: 429s after the first throttled window (the budget is learnt)")
	assert.Zero(t, na.Leaked, "notionauth: connections left open")
	// One connection per goroutine, plus net/http's dial race: a goroutine
	// that sends its next request before the transport has put its last
	// connection back in the pool starts a dial, and the new connection
	// joins the pool. It happens in the first burst, for one or two
	// connections; a leak or a connection dropped per 429 would need one
	// per throttled answer.
	assert.LessOrEqual(t, na.Conns, int64(cfg.Goroutines+cfg.Goroutines/2), "notionauth: TCP connections opened")
	for _, r := range results {
		if r.Peer != na.Peer {
			assert.LessOrEqual(t, na.Throttled, r.Throttled, "notionauth's 429s against %s's", r.Peer)
		}
	}
}

// TestRateLimitWorkloadTokens runs the workload with many tokens per
// client, so that CI exercises the per-token accounting: each token's
// later 429s are counted from that token's own first 429.
func TestRateLimitWorkloadTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the workload for a few seconds")
	}
	cfg := workload.Config{
		Budget:       3,
		Window:       500 * time.Millisecond,
		Tokens:       20,
		Calls:        180, // 9 per token: 3 windows each
		Goroutines:   8,
		Attempts:     20,
		Concurrent:   true,
		WholeSeconds: true,
		CallTimeout:  30 * time.Second,
		RunTimeout:   60 * time.Second,
	}
	peers := workload.Peers()
	results, err := workload.Run(context.Background(), cfg, peers)
	require.NoError(t, err)
	require.Len(t, results, len(peers), "a result for every client")
	for _, r := range results {
		t.Logf("%-20s wall %v, ok %d, failed %d, 429s %d, later %d on %d tokens, sent %d, conns %d (%d leaked); %s",
			r.Peer, r.Wall.Round(time.Millisecond), r.OK, r.Failed, r.Throttled, r.Later, r.TokensLater, r.Sent,
			r.Conns, r.Leaked, r.Detail)
		assert.Equal(t, cfg.Tokens, r.Tokens, "%s: tokens", r.Peer)
		assert.Equal(t, cfg.Calls, r.OK+r.Failed, "%s: every call ends, in success or failure", r.Peer)
		assert.GreaterOrEqual(t, r.Sent, r.OK, "%s: requests the fake saw, against calls that succeeded", r.Peer)
		assert.LessOrEqual(t, r.TokensLater, cfg.Tokens, "%s: tokens with later 429s", r.Peer)
		assert.LessOrEqual(t, r.TokensLater, r.Later, "%s: a token with later 429s has at least one", r.Peer)
		assert.LessOrEqual(t, r.Later, r.Throttled, "%s: later 429s are 429s", r.Peer)
		if r.Peer == workload.NotionAuth().Name {
			assert.Zero(t, r.Failed, "notionauth: failed calls; errors: %v", r.Errors)
		}
	}
}
