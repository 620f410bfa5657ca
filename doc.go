// Package notionauth keeps apps that talk to Notion's API connected, and
// tells them exactly why when they are not.
//
// Apps lose access to Notion in many ways: a user disconnects the
// connection, a page stops being shared, a workspace hits its block limit,
// Notion throttles, Cloudflare answers instead of the API. Treating them
// alike either sends users back through OAuth for nothing or keeps a dead
// token hammering the API. notionauth turns each case into a distinct,
// typed event.
//
// # The Transport
//
// Every request passes one http.RoundTripper, [Transport], installed under
// github.com/jomei/notionapi (see [NewClient]) or any other HTTP client:
//
//	caller (notionapi.Client, net/http)  ->  Transport.RoundTrip
//	   latch:  this token already known revoked?  -> ErrAuthRevoked at once, nothing sent
//	   auth:   Authorization: Bearer <token from Source> (on a copy of the request)
//	   then a loop of attempts, each ending in one verdict:
//	     pace:    wait while this token's shared pause lasts, or its learnt budget is spent
//	     send:    through Base
//	     classify: status below 400 -> return the response, untouched
//	               otherwise       -> *Error{Kind, Code, RetryAfter, ObjectID, RequestID, ...}
//	     verdict: Throttled     -> pause the token for Retry-After, send again (any method)
//	              Unavailable   -> backoff with jitter, send again only what is safe to repeat
//	              Conflict      -> backoff, send again
//	              AuthRevoked   -> a Refresher Source (a Manager's) gives another token:
//	                               send again with it; otherwise confirm with one probe
//	                               of the token before believing the 401: confirmed,
//	                               latch the token, call OnAuthRevoked once; spurious,
//	                               send again
//	              anything else -> stop: retrying cannot help
//	   return the typed error (nil response, body closed)
//
// Every attempt, the one after a refresh or after a spurious 401 included,
// waits its turn, counts in Error.Attempts and RetryPolicy.MaxAttempts and
// is reported to Transport.OnEvent. [RetryPolicy] says what is retried and
// how long a call may wait; [Pacing] says how each token's rate budget is
// spent. A wait longer than RetryPolicy.MaxWait, or one that could not end
// before the request's context deadline, is not slept: the call returns
// ErrThrottled with RetryAfter set, so the app can reschedule the job.
// [Transport.Stats], Transport.OnEvent and Transport.Logger show what
// happened. Transport.Clock is the one source of time of all of it;
// notiontest.Clock is a manual one for tests.
//
// # Errors
//
// Failures are *[Error] values; their [Kind] says what to do:
//
//	AuthRevoked     the token is gone: run OAuth again
//	Throttled       wait Error.RetryAfter; the token is fine
//	PermissionLost  one object (Error.ObjectID) is deleted or no longer shared
//	Blocked         refused outright (blocked 429, edge/WAF page, a gateway's 401): retrying won't help
//	InvalidRequest  fix the request
//	Conflict        a data collision: retry later
//	Unavailable     Notion is failing or unreachable: retry later
//	Canceled        the app cancelled the call: errors.Is(err, context.Canceled)
//
// A request that can never be valid (a token with a line break, a URL
// without a scheme or host) is InvalidRequest at once, with nothing sent.
// A failing Source or Store gives the Kind of its cause: an unreachable
// store is Unavailable, a wrong key InvalidRequest. A 403 for a capability
// the connection lacks is PermissionLost with Reason
// ReasonMissingCapability and no ObjectID: sharing a page again will not
// help.
//
// No error, log line, event or print holds a secret: what the wire brings
// back is kept only in shapes that cannot carry one (a request id only as
// a UUID, codes only as identifiers), and the exact secrets a call used
// are scrubbed from its error, as they are, URL-escaped, in base64 and in
// hex. Neither the Transport nor the token endpoints follow a redirect.
//
// Through notionapi or net/http they arrive wrapped in a *url.Error; match
// them with errors.Is and the sentinels, or errors.As for the details:
//
//	page, err := client.Page.Get(ctx, id)
//	switch {
//	case errors.Is(err, notionauth.ErrAuthRevoked):
//		// ask the user to reconnect
//	case errors.Is(err, notionauth.ErrPermissionLost):
//		var e *notionauth.Error
//		errors.As(err, &e)
//		// ask the user to share e.ObjectID again
//	case errors.Is(err, notionauth.ErrThrottled):
//		// reschedule the job after e.RetryAfter
//	}
//
// [KindOf] classifies an error in one call, including notionapi's own error
// types for apps that cannot install the Transport, and [CheckResponse]
// classifies a raw *http.Response.
//
// # OAuth
//
// [Config] runs a public connection's authorization-code flow and calls
// Notion's token endpoints as Notion documents them (JSON bodies, HTTP
// Basic client credentials, Notion-Version):
//
//	state, err := cfg.NewState(sessionID)            // signed, bound to the session, expiring, single use
//	http.Redirect(w, r, cfg.AuthCodeURL(state), http.StatusFound)
//	// ... in the redirect URI's handler:
//	tok, err := cfg.HandleCallback(ctx, r, sessionID) // state first, then error=..., then the code exchange
//	switch {
//	case errors.Is(err, notionauth.ErrUserCancelled): // the user pressed Cancel
//	case errors.Is(err, notionauth.ErrStateInvalid):  // forged, expired, replayed or another session's
//	}
//	stored, err := notionauth.EncodeToken(tok)        // the one format that keeps the secrets
//
// [Config.Refresh] rotates: it returns a new access token and a new refresh
// token, and the old refresh token is spent, so refreshes of one grant must
// be serialised and the new pair stored before use. invalid_grant from the
// token endpoint (a used code, a rotated or revoked refresh token) is
// [ErrAuthRevoked]; invalid_client (wrong client credentials) is
// [InvalidRequest]. [Config.Introspect] and [Config.Revoke] complete the
// set. A [Token] or Config never prints its secrets, in any fmt verb, in
// log/slog or in JSON; no error quotes them.
//
// # Many grants
//
// [Manager] keeps one grant per app key (a workspace, a user) in a [Store]
// ([MemoryStore], or the file store of package
// [github.com/notionauth/notionauth/store/filestore]: one file, encrypted
// with AES-256-GCM when given a key, locked across processes) and hands
// out a client per key. On a 401 it refreshes the grant once, however many
// goroutines or processes met it, storing the rotated pair before use; a
// grant that is really gone is marked revoked in the Store, so every
// process fails fast, and Manager.OnAuthRevoked runs once.
//
// [Store.List] pages through a store's grants in key order, and [Grants]
// ranges over all of them. An app's own Store (a database of its own)
// builds on [CheckKey], [CheckList] and [ApplyUpdate], and runs the
// conformance suite of package [github.com/notionauth/notionauth/storetest].
//
// # Testing
//
// Package [github.com/notionauth/notionauth/notiontest] is a fake Notion
// API on loopback that can revoke tokens, unshare pages, throttle, and
// answer like Cloudflare, so that every failure above can be tested offline.
package notionauth
