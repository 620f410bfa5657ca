package notionauth_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jomei/notionapi"

	"github.com/notionauth/notionauth"
)

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
