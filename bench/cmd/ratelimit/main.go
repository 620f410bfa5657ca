// Command ratelimit runs the same rate-limited workload through notionauth,
// notionapi's own retry and go-retryablehttp, side by side, against
// notiontest on loopback, and prints a Markdown table.
//
// Each client gets its own token, or -tokens of them (Notion's budget is per
// token), and its own connection pool, and makes the same calls: Page.Get
// and Block.GetChildren (GET) and Search.Do and Database.Query (read-only
// POST), three reads for each POST, from several goroutines, spread
// round-robin over its tokens. The fake allows Budget requests per Window
// per token, with Retry-After in whole seconds in the header and, unless
// -whole-seconds, in milliseconds in the body
// (notiontest.RateLimit.PreciseRetryAfter).
//
// Usage, from bench/:
//
//	go run ./cmd/ratelimit [-budget 60] [-window 2s] [-calls 360] [-goroutines 16] [-attempts 20]
//		[-tokens 1] [-whole-seconds] [-timeout 0] [-run-timeout 5m] [-concurrent]
//
// At Notion's own scale (180 requests a minute, whole seconds, a 60 s
// deadline per call; this takes minutes):
//
//	go run ./cmd/ratelimit -budget 180 -window 60s -calls 541 -goroutines 16 -whole-seconds -timeout 60s
//
// It exits non-zero only when the run cannot be set up, never because a
// client did badly.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/notionauth/notionauth/bench/internal/workload"
)

func main() {
	def := workload.Config{}.WithDefaults()
	var cfg workload.Config
	flag.IntVar(&cfg.Budget, "budget", def.Budget, "requests per window per token, as the fake enforces it")
	flag.DurationVar(&cfg.Window, "window", def.Window, "the fake's rate-limit window")
	flag.IntVar(&cfg.Calls, "calls", 0, "calls per client (default 6 windows' worth: 6 × budget × tokens)")
	flag.IntVar(&cfg.Goroutines, "goroutines", def.Goroutines, "concurrent callers per client")
	flag.IntVar(&cfg.Attempts, "attempts", def.Attempts, "requests each client may send per call, the first included")
	flag.IntVar(&cfg.Tokens, "tokens", def.Tokens, "tokens per client, each with its own budget; calls go to them round-robin")
	flag.BoolVar(&cfg.Concurrent, "concurrent", false, "run the clients at the same time, each on tokens of its own (default: one after another)")
	flag.BoolVar(&cfg.WholeSeconds, "whole-seconds", false, "Retry-After in whole seconds only, as Notion sends it (default: also in ms in additional_data.retry_after)")
	flag.DurationVar(&cfg.CallTimeout, "timeout", 0, "deadline of each call (context.WithTimeout); 0: none")
	flag.DurationVar(&cfg.RunTimeout, "run-timeout", def.RunTimeout, "bound on the whole run; calls still running then fail")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ratelimit: unexpected arguments: %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	cfg = cfg.WithDefaults()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := workload.Run(ctx, cfg, workload.Peers())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit:", err)
		os.Exit(1)
	}
	report(os.Stdout, cfg, results)
}

// report prints the results as Markdown.
func report(w io.Writer, cfg workload.Config, results []workload.Result) {
	mode := "one after another"
	if cfg.Concurrent {
		mode = "concurrently"
	}
	many := cfg.Tokens > 1
	later, tokensCol, tokensSep := "429s after the first throttled window", "", ""
	if many {
		later = "later 429s (summed per token)"
		tokensCol, tokensSep = " tokens with later 429s |", "--:|"
	}
	fmt.Fprintf(w, "| client | wall | goodput (%% of budget) | ok | failed | 429s received | %s |%s requests sent | TCP connections opened | leaked | p50 | p99 |\n",
		later, tokensCol)
	fmt.Fprintf(w, "|---|--:|--:|--:|--:|--:|--:|%s--:|--:|--:|--:|--:|\n", tokensSep)
	for _, r := range results {
		tokensLater := ""
		if many {
			tokensLater = fmt.Sprintf(" %d |", r.TokensLater)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f%% | %d | %d | %d | %d |%s %d | %d | %d | %s | %s |\n",
			r.Peer, seconds(r.Wall), r.Goodput, r.OK, r.Failed, r.Throttled, r.Later, tokensLater, r.Sent, r.Conns, r.Leaked, ms(r.P50), ms(r.P99))
	}
	ideal := cfg.IdealWall()
	idealTokens := ""
	if many {
		idealTokens = " 0 |"
	}
	fmt.Fprintf(w, "| *ideal* | %s | %s | %d | 0 | 0 | 0 |%s %d | – | 0 | – | – |\n",
		seconds(ideal), idealGoodput(cfg), cfg.Calls, idealTokens, cfg.Calls)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Parameters: %s; %d calls per client (Page.Get, Block.GetChildren : Search.Do, Database.Query = 3 : 1) "+
		"from %d goroutines%s; at most %d requests per call; %s; %s; clients run %s, each on %s and its own connection pool. "+
		"Goodput = successful calls per second / (%s). %sLeaked = connections still open once every call "+
		"had returned and the idle ones were closed. Latency of successful calls, waits included. "+
		"The ideal row spends the budget exactly and does not wait out the last window. %s %s/%s.\n",
		budgetText(cfg), cfg.Calls, cfg.Goroutines, spreadText(cfg), cfg.Attempts, callDeadlineText(cfg),
		fmt.Sprintf("the whole run bounded by %v", cfg.RunTimeout), mode, tokensText(cfg),
		rateText(cfg), laterText(cfg), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Command (in bench/): `go run ./cmd/ratelimit%s`\n", commandArgs())
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "- **%s**: %s.", r.Peer, r.Setup)
		if r.Detail != "" {
			fmt.Fprintf(w, " %s.", r.Detail)
		}
		fmt.Fprintln(w)
		for i, e := range r.Errors {
			if i == 3 {
				fmt.Fprintf(w, "  - … and %d more kinds of failure\n", len(r.Errors)-i)
				break
			}
			fmt.Fprintf(w, "  - %d× `%s`\n", e.Count, e.Message)
		}
	}
}

// budgetText states the fake's budget and how it sends Retry-After.
func budgetText(cfg workload.Config) string {
	how := "Retry-After in whole seconds, additional_data.retry_after in ms"
	if cfg.WholeSeconds {
		how = "Retry-After in whole seconds only, as Notion sends it"
	}
	return fmt.Sprintf("budget %d requests per %v window per token (notiontest, %s)", cfg.Budget, cfg.Window, how)
}

func spreadText(cfg workload.Config) string {
	if cfg.Tokens <= 1 {
		return ""
	}
	return fmt.Sprintf(", spread round-robin over %d tokens per client (one RoundTripper stack per client, one notionapi client per token)", cfg.Tokens)
}

func callDeadlineText(cfg workload.Config) string {
	if cfg.CallTimeout <= 0 {
		return "no deadline per call"
	}
	return fmt.Sprintf("each call under a %v deadline (context.WithTimeout)", cfg.CallTimeout)
}

func tokensText(cfg workload.Config) string {
	if cfg.Tokens <= 1 {
		return "its own token"
	}
	return fmt.Sprintf("%d tokens of its own", cfg.Tokens)
}

func rateText(cfg workload.Config) string {
	if cfg.Tokens <= 1 {
		return "budget / window"
	}
	return "tokens × budget / window"
}

func laterText(cfg workload.Config) string {
	if cfg.Tokens <= 1 {
		return ""
	}
	return "A 429 is later when it comes more than a window after its token's first 429; " +
		"tokens with later 429s counts the tokens that met at least one. "
}

func idealGoodput(cfg workload.Config) string {
	ideal := cfg.IdealWall()
	if ideal <= 0 {
		return "–" // the calls fit in one window
	}
	return fmt.Sprintf("%.0f%%", float64(cfg.Calls)/ideal.Seconds()/cfg.Rate()*100)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}

// commandArgs is the command line's flags, quoted for a shell when needed.
func commandArgs() string {
	var b strings.Builder
	for _, a := range os.Args[1:] {
		b.WriteByte(' ')
		if strings.ContainsAny(a, " \t\"'$\\`*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		b.WriteString(a)
	}
	return b.String()
}
