// Package notiontest provides a fake of Notion's API (api.notion.com) for tests.
//
// A [Server] listens on loopback and keeps state: workspaces, bearer tokens,
// pages, blocks, databases and data sources, who they are shared with, OAuth
// clients and grants, scripted faults, per-token and per-workspace rate
// limits and a log of every request. Its answers follow Notion-Version 2022-06-28, the version
// github.com/jomei/notionapi speaks, so they decode into that package's types.
//
//	s := notiontest.New(t) // closed when the test ends
//	token := s.NewToken()
//	page := s.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
//	s.Share(page, token)
//	client := notionapi.NewClient(notionapi.Token(token), notionapi.WithHTTPClient(s.Client()))
//
// [Server.Client] and [Server.Transport] send requests for
// https://api.notion.com (or any other host) to the fake, so code under test
// keeps its real base URL.
//
// # Tokens and sharing
//
// Every token belongs to a bot user, and every bot to a workspace. A server
// starts with one workspace, its default ([Server.Workspace], named
// "notiontest workspace"); [Server.NewWorkspace] adds more. [Server.NewToken]
// mints a token with a new bot in the default workspace,
// [Server.NewTokenIn] one in a given workspace, and [Server.WorkspaceOf]
// tells a token's workspace. GET /v1/users/me answers with the bot and the
// name of its workspace. Tokens issued through OAuth share the bot of their
// grant, so a refreshed access token sees what the old one saw, in the same
// workspace.
//
// An object is visible to a token when neither it nor an ancestor is deleted
// and it, or an ancestor, is shared with the token's bot ([Server.Share]).
// Anything else answers 404 object_not_found, as Notion does for pages that
// were never shared or have been unshared. Objects are not scoped to
// workspaces: [Server.Put] adds an object to the one store all workspaces
// see, and sharing alone decides who sees it, so a test that wants an
// object "in" a workspace shares it only with that workspace's tokens.
// [Server.RevokeToken] makes a token answer 401 unauthorized, the only
// signal Notion gives when a connection is removed.
//
// # Faults
//
// [Server.Inject] scripts answers for matching requests: Notion errors
// ([RateLimited], [Overloaded], [ServerError], ...), HTML pages from the
// Cloudflare edge ([EdgeHTML]), latency ([Latency]) and connection resets
// ([ConnectionReset]). Faults are checked before authentication, so they
// apply to valid and invalid tokens alike.
//
// # Rate limits
//
// [Server.SetRateLimit] turns on a fixed-window budget per token
// ([RateLimit] Budget) and one per workspace, shared by all the tokens of a
// workspace ([RateLimit] WorkspaceBudget), answering 429 rate_limited with
// Retry-After as Notion does. additional_data.rate_limit_reason tells them
// apart: public_api_request_rate_limit for the token's budget,
// public_api_space_request_rate_limit for the workspace's
// ([ReasonRequestRateLimit], [ReasonSpaceRateLimit]). A token can thus be
// throttled by what other connections of its workspace spend, and a
// [RateLimit] WorkspaceWindow longer than a minute gives it a Retry-After
// longer than a minute, as Notion's per-workspace limit can. The
// workspace's budget is checked first, so a request over both gets the
// workspace's 429 (see [Server.SetRateLimit] for why).
// [RateLimit.PreciseRetryAfter] adds the wait in milliseconds to the body, for
// tests that shrink the window to seconds.
//
// # Time
//
// By default the fake reads the system clock. [Server.SetClock] puts it on
// a manual [Clock] instead: rate-limit windows and their Retry-After,
// [Fault] Delay and [Latency] waits, the Time of logged requests, token
// issue times and objects' created and edited times all come from that
// clock, and waits end when [Clock.Advance] passes them, not in real time.
// Give the same Clock to the client under test (its method set is
// notionauth.Clock's) and a one-minute window takes no time at all:
//
//	clock := notiontest.NewClock(time.Time{}) // starts now
//	s.SetClock(clock)
//	s.SetRateLimit(notiontest.RateLimit{Budget: 180})
//	// ... spend the budget, meet a 429 with Retry-After: 42 ...
//	clock.Advance(42 * time.Second)
//
// [Clock.WaitPending] tells a test when its goroutines are waiting on the
// clock (a client's backoff, the fake's Latency), so that it knows when to
// advance it. [Clock.AutoAdvance] spares the test that: the clock moves to
// its next timer by itself whenever nothing has happened for a moment, so
// a test written as if time were real runs through its waits at once:
//
//	clock := notiontest.NewClock(time.Time{})
//	s.SetClock(clock)
//	t.Cleanup(clock.AutoAdvance(0))
//	tr := &notionauth.Transport{Base: s.Transport(), Clock: clock, ...}
//
// # Request log
//
// [Server.Requests] and [Server.Count] report what the fake received. The
// log records a hash of the bearer token ([TokenHash]), never the token, and
// the token's workspace ([Request] Workspace).
//
// # OAuth
//
// [Server.AddOAuthClient] registers a public connection. GET
// /v1/oauth/authorize plays the consent screen after the user's choice: it
// redirects (302) to the redirect URI with a code and the state, or with
// error=access_denied once [Server.DenyAuthorizations] is on. A grant
// authorized with owner=user is owned by the workspace's person
// ("notiontest user", user@notiontest.example, the id of objects' creator);
// [Server.NewAuthCode] mints a code without the page, for a grant owned by
// the workspace. Grants are in the default workspace unless authorized into
// another: with [Server.NewAuthCodeIn], or on the authorize page with the
// fake's own workspace_id parameter (on Notion's page, the user picks the
// workspace); the token endpoint then answers with that workspace's
// workspace_id and workspace_name. POST /v1/oauth/token
// exchanges a code (once) or a refresh token: each refresh returns a new
// access token and a new refresh token, and the old refresh token then fails
// with invalid_grant. The old access token stays valid until revoked, since
// Notion does not say otherwise. [Server.KillFamilyOnReuse] makes reusing a
// rotated refresh token revoke the whole grant, [Server.DropNextRefreshResponse]
// loses one refresh's answer after the rotation, and [Server.RefreshCount]
// counts refreshes. POST /v1/oauth/introspect and /v1/oauth/revoke work on
// both kinds of token.
//
// # Order of checks
//
// Each request goes through, in order: faults, the Notion-Version header
// (400 missing_version), the bearer token (401 unauthorized), the
// workspace's rate limit, then the token's (429 rate_limited), then the
// endpoint. The OAuth endpoints under
// /v1/oauth/ use HTTP Basic client credentials instead of a bearer token,
// do not require Notion-Version and are not rate limited.
package notiontest
