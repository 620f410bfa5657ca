package workload

import (
	"fmt"
	"net/http"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/jomei/notionapi"

	"github.com/notionauth/notionauth"
)

// Peer is one client under test.
type Peer struct {
	// Name labels the peer in results.
	Name string
	// Setup says in one line how the peer is configured.
	Setup string
	// New builds one notionapi client per token, each sending its requests
	// with its token, all through one RoundTripper stack of the peer's own
	// over base (so that whatever the stack learns is shared by the
	// tokens, as in an app that serves many workspaces). detail, if not
	// nil, is called once the workload is over and returns what the stack
	// itself reports (one line), if anything.
	New func(tokens []string, base http.RoundTripper, cfg Config) (clients []*notionapi.Client, detail func() string)
}

// Peers returns the three clients the workload compares: notionauth,
// notionapi's own retry, and go-retryablehttp under notionapi. Each one may
// send up to cfg.Attempts requests per call, the first included.
func Peers() []Peer {
	return []Peer{NotionAuth(), NotionAPI(), RetryableHTTP()}
}

// perToken builds a notionapi client for each token, over hc, with
// WithRetry(retries). notionapi puts the token in each request's
// Authorization header itself.
func perToken(tokens []string, hc *http.Client, retries int) []*notionapi.Client {
	clients := make([]*notionapi.Client, len(tokens))
	for i, tok := range tokens {
		clients[i] = notionapi.NewClient(notionapi.Token(tok), notionapi.WithHTTPClient(hc), notionapi.WithRetry(retries))
	}
	return clients
}

// NotionAuth is one notionauth.Transport with no Source, shared by every
// token: notionapi sends each client's token in the Authorization header,
// and the Transport paces each token on its own. The budget is learnt from
// the 429s; only the window length is told (Notion documents 60 s; the
// fake's is shorter). notionapi gets WithRetry(1), as notionauth.NewClient
// gives it, so that the Transport alone decides what to retry.
func NotionAuth() Peer {
	return Peer{
		Name:  "notionauth",
		Setup: "one notionauth.Transport{Pacing: Pacing{Window: W}, Retry: RetryPolicy{MaxAttempts: A}} (no Source) under notionapi.NewClient(token, WithHTTPClient, WithRetry(1)) per token; budget learnt, not told",
		New: func(tokens []string, base http.RoundTripper, cfg Config) ([]*notionapi.Client, func() string) {
			tr := &notionauth.Transport{
				Base:   base,
				Retry:  notionauth.RetryPolicy{MaxAttempts: cfg.Attempts},
				Pacing: notionauth.Pacing{Window: cfg.Window},
			}
			detail := func() string {
				s := tr.Stats()
				return fmt.Sprintf("Stats: %d requests, %d retries, %d throttled answers, %d waits, %v waited in all",
					s.Requests, s.Retries, s.Throttled, s.Waits, s.Waited.Round(1e6))
			}
			return perToken(tokens, &http.Client{Transport: tr}, 1), detail
		},
	}
}

// NotionAPI is github.com/jomei/notionapi with its own 429 loop:
// WithRetry(A) sends at most A requests per call. The clients of all
// tokens share one http.Client.
func NotionAPI() Peer {
	return Peer{
		Name:  "notionapi WithRetry",
		Setup: "notionapi.NewClient(token, WithHTTPClient(&http.Client{Transport: counting}), WithRetry(A)) per token, one http.Client",
		New: func(tokens []string, base http.RoundTripper, cfg Config) ([]*notionapi.Client, func() string) {
			return perToken(tokens, &http.Client{Transport: base}, cfg.Attempts), nil
		},
	}
}

// RetryableHTTP is github.com/hashicorp/go-retryablehttp with its defaults
// (DefaultRetryPolicy, DefaultBackoff: Retry-After on 429 and 503, else
// exponential from 1 s to 30 s) under notionapi, with its logger switched
// off and RetryMax A-1, so that it too sends at most A requests per call.
// One retryablehttp client serves every token.
//
// notionapi gets WithRetry(1) (no retry of its own). This is the honest
// configuration, not a handicap: retryablehttp's RoundTripper consumes every
// 429 itself, and once RetryMax is spent its default error handler returns
// an error ("giving up after N attempt(s)"), never the 429, so notionapi's
// 429 loop never runs whatever WithRetry says. WithRetry(1) makes that
// explicit, and keeps notionapi's loop (which re-sends POST bodies empty)
// out of the way should a 429 ever get through.
func RetryableHTTP() Peer {
	return Peer{
		Name:  "go-retryablehttp",
		Setup: "one retryablehttp.NewClient() with HTTPClient{Transport: counting}, RetryMax A-1, Logger nil, default CheckRetry and Backoff; its .StandardClient() under notionapi WithRetry(1) per token",
		New: func(tokens []string, base http.RoundTripper, cfg Config) ([]*notionapi.Client, func() string) {
			rc := retryablehttp.NewClient()
			rc.HTTPClient = &http.Client{Transport: base}
			rc.RetryMax = cfg.Attempts - 1
			rc.Logger = nil // the default logs every request to stderr
			return perToken(tokens, rc.StandardClient(), 1), nil
		},
	}
}
