// Command ratelimit runs the same rate-limited workload through notionauth,
// notionapi's own retry and go-retryablehttp, side by side, against
// notiontest on loopback, and prints a Markdown table.
//
// Each client gets its own token (Notion's budget is per token) and its own
// connection pool, and makes the same calls: Page.Get and Block.GetChildren
// (GET) and Search.Do and Database.Query (read-only POST), three reads for
// each POST, from several goroutines. The fake allows Budget requests per
// Window per token, with Retry-After in whole seconds in the header and in
// milliseconds in the body (notiontest.RateLimit.PreciseRetryAfter).
//
// Usage, from bench/:
//
//	go run ./cmd/ratelimit [-budget 60] [-window 2s] [-calls 360] [-goroutines 16] [-attempts 20] [-concurrent]
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
	flag.IntVar(&cfg.Calls, "calls", 0, "calls per client (default 6 windows' worth: 6 × budget)")
	flag.IntVar(&cfg.Goroutines, "goroutines", def.Goroutines, "concurrent callers per client")
	flag.IntVar(&cfg.Attempts, "attempts", def.Attempts, "requests each client may send per call, the first included")
	flag.BoolVar(&cfg.Concurrent, "concurrent", false, "run the clients at the same time, each on its own token (default: one after another)")
	flag.DurationVar(&cfg.Timeout, "timeout", def.Timeout, "bound on the whole run; calls still running then fail")
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
	fmt.Fprintf(w, "| client | wall | goodput (%% of budget) | ok | failed | 429s received | 429s after the first throttled window | requests sent | TCP connections opened | leaked | p50 | p99 |\n")
	fmt.Fprintf(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %s | %.0f%% | %d | %d | %d | %d | %d | %d | %d | %s | %s |\n",
			r.Peer, seconds(r.Wall), r.Goodput, r.OK, r.Failed, r.Throttled, r.Later, r.Sent, r.Conns, r.Leaked, ms(r.P50), ms(r.P99))
	}
	ideal := cfg.IdealWall()
	fmt.Fprintf(w, "| *ideal* | %s | %s | %d | 0 | 0 | 0 | %d | – | 0 | – | – |\n",
		seconds(ideal), idealGoodput(cfg), cfg.Calls, cfg.Calls)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Parameters: budget %d requests per %v window per token (notiontest, Retry-After in whole seconds, "+
		"additional_data.retry_after in ms); %d calls per client (Page.Get, Block.GetChildren : Search.Do, Database.Query = 3 : 1) "+
		"from %d goroutines; at most %d requests per call; clients run %s, each on its own token and connection pool. "+
		"Goodput = successful calls per second / (budget / window). Leaked = connections still open once every call "+
		"had returned and the idle ones were closed. Latency of successful calls, waits included. "+
		"The ideal row spends the budget exactly and does not wait out the last window. %s %s/%s.\n",
		cfg.Budget, cfg.Window, cfg.Calls, cfg.Goroutines, cfg.Attempts, mode, runtime.Version(), runtime.GOOS, runtime.GOARCH)
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
