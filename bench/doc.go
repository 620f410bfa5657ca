// Package bench compares notionauth with the retry layers Notion apps use
// today: github.com/jomei/notionapi's own 429 loop and
// github.com/hashicorp/go-retryablehttp under notionapi. It is a module of
// its own so that those dependencies stay out of notionauth's go.mod.
//
// The package itself holds only tests and benchmarks:
//
//   - BenchmarkSuccessPath and BenchmarkSuccessPathLoopback measure what
//     notionauth.Transport adds to a 2xx request, beside
//     golang.org/x/oauth2's Transport, and BenchmarkSuccessPathParallel
//     does the same from 64 goroutines at once;
//   - BenchmarkNewToken measures a request with a token the Transport has
//     never seen, after 1000, 10000 or 100000 others, and
//     BenchmarkTokenMemory the heap it keeps per live and per revoked
//     token (B/token, B/revoked-token);
//   - TestRevokedTokensRemembered checks that 100000 revoked tokens are
//     each confirmed once and then fail without sending anything;
//   - TestRateLimitWorkload and TestRateLimitWorkloadTokens run the
//     rate-limit workload of cmd/ratelimit with tiny parameters, one token
//     and many per client, so CI exercises the harness.
//
// cmd/ratelimit runs the workload with realistic parameters against
// notiontest and prints a Markdown table:
//
//	cd bench && go run ./cmd/ratelimit
package bench
