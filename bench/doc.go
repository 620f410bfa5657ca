// Package bench compares notionauth with the retry layers Notion apps use
// today: github.com/jomei/notionapi's own 429 loop and
// github.com/hashicorp/go-retryablehttp under notionapi. It is a module of
// its own so that those dependencies stay out of notionauth's go.mod.
//
// The package itself holds only tests and benchmarks:
//
//   - BenchmarkSuccessPath and BenchmarkSuccessPathLoopback measure what
//     notionauth.Transport adds to a 2xx request, beside
//     golang.org/x/oauth2's Transport;
//   - TestRateLimitWorkload runs the rate-limit workload of
//     cmd/ratelimit with tiny parameters, so CI exercises the harness.
//
// cmd/ratelimit runs the workload with realistic parameters against
// notiontest and prints a Markdown table:
//
//	cd bench && go run ./cmd/ratelimit
package bench
