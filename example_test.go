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
