package notiontest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jomei/notionapi"

	"github.com/notionauth/notionauth/notiontest"
)

// The fake answers github.com/jomei/notionapi as Notion would: a page is
// visible once shared, and gone once unshared.
func Example() {
	s := notiontest.NewServer()
	defer s.Close()

	token := s.NewToken()
	id := s.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})
	s.Share(id, token)

	client := notionapi.NewClient(notionapi.Token(token), notionapi.WithHTTPClient(s.Client()))
	ctx := context.Background()
	page, err := client.Page.Get(ctx, notionapi.PageID(id))
	if err != nil {
		fmt.Println(err)
		return
	}
	title := page.Properties["title"].(*notionapi.TitleProperty)
	fmt.Println(title.Title[0].PlainText)

	s.Unshare(id, token)
	_, err = client.Page.Get(ctx, notionapi.PageID(id))
	var apiErr *notionapi.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code)
	}
	// Output:
	// Roadmap
	// 404 object_not_found
}

func ExampleServer_Inject() {
	s := notiontest.NewServer()
	defer s.Close()
	token := s.NewToken()

	// The next request to any page is throttled.
	f := notiontest.RateLimited(1500 * time.Millisecond)
	f.Path = "/v1/pages/*"
	s.Inject(f)

	req, _ := http.NewRequest("GET", "https://api.notion.com/v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Notion-Version", "2022-06-28")
	resp, err := s.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"))
	fmt.Println(s.Count("GET", "/v1/pages/*"))
	// Output:
	// 429 2
	// 1
}

func ExampleServer_SetRateLimit() {
	s := notiontest.NewServer()
	defer s.Close()
	token := s.NewToken()
	s.SetRateLimit(notiontest.RateLimit{Budget: 2, Window: time.Minute})

	// WithRetry(1): notionapi gives up at the first 429 instead of sleeping.
	client := notionapi.NewClient(notionapi.Token(token),
		notionapi.WithHTTPClient(s.Client()), notionapi.WithRetry(1))
	for range 3 {
		_, err := client.User.Me(context.Background())
		fmt.Println(err)
	}
	// Output:
	// <nil>
	// <nil>
	// Retry request with 429 response failed after 1 retries
}

// A manual clock passes a minute's rate-limit window in no time: the 429's
// Retry-After is counted on the clock, and Advance ends the window.
func ExampleServer_SetClock() {
	s := notiontest.NewServer()
	defer s.Close()
	clock := notiontest.NewClock(time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC))
	s.SetClock(clock)
	s.SetRateLimit(notiontest.RateLimit{Budget: 1, Window: time.Minute})
	token := s.NewToken()

	get := func() {
		req, _ := http.NewRequest("GET", "https://api.notion.com/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Notion-Version", "2022-06-28")
		resp, err := s.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Print(clock.Now().Format(time.TimeOnly), " ", resp.StatusCode)
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Print(" Retry-After: ", ra)
		}
		fmt.Println()
	}
	get()
	clock.Advance(15 * time.Second)
	get()
	clock.Advance(45 * time.Second) // instead of time.Sleep(45 * time.Second)
	get()
	// Output:
	// 09:00:00 200
	// 09:00:15 429 Retry-After: 45
	// 09:01:00 200
}

// The tokens of one workspace share its budget: once one has spent it, the
// other gets the workspace's 429, while a token of another workspace goes
// on.
func ExampleServer_NewWorkspace() {
	s := notiontest.NewServer()
	defer s.Close()
	clock := notiontest.NewClock(time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC))
	s.SetClock(clock)
	s.SetRateLimit(notiontest.RateLimit{Budget: 180, WorkspaceBudget: 2, WorkspaceWindow: 2 * time.Minute})

	acme := s.NewWorkspace("Acme")
	first, second := s.NewTokenIn(acme), s.NewTokenIn(acme)
	elsewhere := s.NewToken() // in the default workspace

	get := func(name, token string) {
		req, _ := http.NewRequest("GET", "https://api.notion.com/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Notion-Version", "2022-06-28")
		resp, err := s.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		var body struct {
			AdditionalData map[string]string `json:"additional_data"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		fmt.Print(name, " ", resp.StatusCode)
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Print(" ", body.AdditionalData["rate_limit_reason"], " Retry-After: ", ra)
		}
		fmt.Println()
	}
	get("first", first)
	get("first", first)
	clock.Advance(30 * time.Second)
	get("second", second)
	get("elsewhere", elsewhere)
	// Output:
	// first 200
	// first 200
	// second 429 public_api_space_request_rate_limit Retry-After: 90
	// elsewhere 200
}
