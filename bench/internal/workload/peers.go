package workload

import (
	"fmt"
	"net/http"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/jomei/notionapi"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
)

// Peer is one client under test.
type Peer struct {
	// Name labels the peer in results.
	Name string
	// Setup says in one line how the peer is configured.
	Setup string
	// New builds a notionapi client that sends every request with token
	// through base. detail, if not nil, is called once the workload is over
	// and returns what the client itself reports (one line), if anything.
	New func(token string, base http.RoundTripper, cfg Config) (client *notionapi.Client, detail func() string)
}

// Peers returns the three clients the workload compares: notionauth,
// notionapi's own retry, and go-retryablehttp under notionapi. Each one may
// send up to cfg.Attempts requests per call, the first included.
func Peers() []Peer {
	return []Peer{NotionAuth(), NotionAPI(), RetryableHTTP()}
}

// NotionAuth is notionauth.NewClient over a notionauth.Transport with a
// static token. The budget is learnt from the 429s; only the window length
// is told (Notion documents 60 s; the fake's is shorter).
func NotionAuth() Peer {
	return Peer{
		Name:  "notionauth",
		Setup: "notionauth.NewClient(&notionauth.Transport{Pacing: Pacing{Window: W}, Retry: RetryPolicy{MaxAttempts: A}}); budget learnt, not told",
		New: func(token string, base http.RoundTripper, cfg Config) (*notionapi.Client, func() string) {
			tr := &notionauth.Transport{
				Base:   base,
				Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
				Retry:  notionauth.RetryPolicy{MaxAttempts: cfg.Attempts},
				Pacing: notionauth.Pacing{Window: cfg.Window},
			}
			detail := func() string {
				s := tr.Stats()
				return fmt.Sprintf("Stats: %d requests, %d retries, %d throttled answers, %d waits, %v waited in all",
					s.Requests, s.Retries, s.Throttled, s.Waits, s.Waited.Round(1e6))
			}
			return notionauth.NewClient(tr), detail
		},
	}
}

// NotionAPI is github.com/jomei/notionapi with its own 429 loop:
// WithRetry(A) sends at most A requests per call.
func NotionAPI() Peer {
	return Peer{
		Name:  "notionapi WithRetry",
		Setup: "notionapi.NewClient(token, WithHTTPClient(&http.Client{Transport: counting}), WithRetry(A))",
		New: func(token string, base http.RoundTripper, cfg Config) (*notionapi.Client, func() string) {
			return notionapi.NewClient(notionapi.Token(token),
				notionapi.WithHTTPClient(&http.Client{Transport: base}),
				notionapi.WithRetry(cfg.Attempts)), nil
		},
	}
}

// RetryableHTTP is github.com/hashicorp/go-retryablehttp with its defaults
// (DefaultRetryPolicy, DefaultBackoff: Retry-After on 429 and 503, else
// exponential from 1 s to 30 s) under notionapi, with its logger switched
// off and RetryMax A-1, so that it too sends at most A requests per call.
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
		Setup: "retryablehttp.NewClient() with HTTPClient{Transport: counting}, RetryMax A-1, Logger nil, default CheckRetry and Backoff; .StandardClient() under notionapi WithRetry(1)",
		New: func(token string, base http.RoundTripper, cfg Config) (*notionapi.Client, func() string) {
			rc := retryablehttp.NewClient()
			rc.HTTPClient = &http.Client{Transport: base}
			rc.RetryMax = cfg.Attempts - 1
			rc.Logger = nil // the default logs every request to stderr
			return notionapi.NewClient(notionapi.Token(token),
				notionapi.WithHTTPClient(rc.StandardClient()),
				notionapi.WithRetry(1)), nil
		},
	}
}
