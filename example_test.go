package notionauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jomei/notionapi"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
)

// A Transport under a notionapi client tells a page that is no longer
// shared from a connection that is gone. The fake server stands in for
// api.notion.com; in production leave Base nil.
func ExampleTransport() {
	srv := notiontest.NewServer()
	defer srv.Close()
	token := srv.NewToken()
	page := srv.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
	srv.Share(page, token)

	tr := &notionauth.Transport{
		Base:   srv.Transport(),
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
		OnAuthRevoked: func(ctx context.Context, err *notionauth.Error) {
			fmt.Println("connection gone:", err.StatusCode, err.Code)
		},
	}
	client := notionauth.NewClient(tr)
	ctx := context.Background()

	srv.Unshare(page, token)
	_, err := client.Page.Get(ctx, notionapi.PageID(page))
	var e *notionauth.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind, e.ObjectID == page)
	}

	srv.RevokeToken(token)
	_, err = client.Page.Get(ctx, notionapi.PageID(page))
	fmt.Println(errors.Is(err, notionauth.ErrAuthRevoked))
	// Output:
	// permission lost true
	// connection gone: 401 unauthorized
	// true
}

// KindOf classifies the errors of a notionapi client that does not use the
// Transport.
func ExampleKindOf() {
	var err error = &notionapi.Error{Status: 404, Code: "object_not_found", Message: "Could not find page."}
	err = fmt.Errorf("sync page: %w", err)
	fmt.Println(notionauth.KindOf(err))
	// Output: permission lost
}

// CheckResponse classifies a raw response and leaves its body readable.
func ExampleCheckResponse() {
	resp := &http.Response{
		StatusCode: 429,
		Header:     http.Header{"Retry-After": {"12"}, "X-Notion-Request-Id": {"req-1"}},
		Body: io.NopCloser(strings.NewReader(`{"object":"error","status":429,"code":"rate_limited",` +
			`"message":"You have been rate limited.","additional_data":{"rate_limit_reason":"public_api_request_rate_limit"}}`)),
	}
	err := notionauth.CheckResponse(resp)
	var e *notionauth.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind, e.RetryAfter, e.Reason)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(len(body) > 0)
	// Output:
	// throttled 12s public_api_request_rate_limit
	// true
}

// Error.RetryAfter says how long Notion asked to wait.
func ExampleError_retryAfter() {
	err := fmt.Errorf("wrapped: %w", &notionauth.Error{Kind: notionauth.Throttled, StatusCode: 429, RetryAfter: 30 * time.Second})
	var e *notionauth.Error
	if errors.Is(err, notionauth.ErrThrottled) && errors.As(err, &e) {
		fmt.Println("retry in", e.RetryAfter)
	}
	// Output: retry in 30s
}

// A Config runs the authorization-code flow: a signed state bound to the
// user's session, Notion's consent screen, the callback, the exchange. The
// fake server stands in for api.notion.com and for the user's browser
// approving; in production BaseURL stays empty, the browser follows the
// authorize URL, and HandleCallback runs in the redirect URI's handler.
func ExampleConfig_HandleCallback() {
	srv := notiontest.NewServer()
	defer srv.Close()
	srv.AddOAuthClient("client-id", "client-secret", "https://app.example/callback")

	cfg := &notionauth.Config{
		ClientID:     "client-id",
		ClientSecret: "client-secret",
		RedirectURL:  "https://app.example/callback",
		BaseURL:      srv.URL,
		StateKey:     []byte("a random key of 32 bytes or more, kept secret"),
	}
	session := "the user's session id"
	state, err := cfg.NewState(session)
	if err != nil {
		panic(err)
	}

	// The browser opens the authorize URL; Notion redirects it back.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(cfg.AuthCodeURL(state))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	callback, _ := http.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)

	tok, err := cfg.HandleCallback(context.Background(), callback, session)
	switch {
	case errors.Is(err, notionauth.ErrUserCancelled):
		fmt.Println("the user said no")
	case errors.Is(err, notionauth.ErrStateInvalid):
		fmt.Println("forged, expired or replayed callback")
	case err != nil:
		fmt.Println("exchange failed:", err)
	default:
		fmt.Println(tok.Owner.Type, tok.BotID == srv.BotID(tok.AccessToken))
		fmt.Printf("%.82v\n", tok) // secrets never print
		stored, _ := notionauth.EncodeToken(tok)
		_ = stored // save it, encrypted at rest
	}

	// The same callback a second time: the state is spent.
	_, err = cfg.HandleCallback(context.Background(), callback, session)
	fmt.Println(err)
	// Output:
	// user true
	// notionauth.Token{AccessToken:[redacted], RefreshToken:[redacted], TokenType:bearer
	// notionauth: invalid OAuth state: replayed
}
