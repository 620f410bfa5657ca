package notiontest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	revoked := s.NewToken()
	s.RevokeToken(revoked)
	page := s.Put(notiontest.Object{Title: "p"})
	s.Share(page, token)

	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       any
		noVersion  bool
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{name: "missing version", method: "GET", path: "/v1/users/me", token: token, noVersion: true,
			wantStatus: 400, wantCode: "missing_version"},
		{name: "no token", method: "GET", path: "/v1/users/me",
			wantStatus: 401, wantCode: "unauthorized", wantMsg: "API token is invalid."},
		{name: "unknown token", method: "GET", path: "/v1/users/me", token: "ntn_nope",
			wantStatus: 401, wantCode: "unauthorized", wantMsg: "API token is invalid."},
		{name: "revoked token on users/me", method: "GET", path: "/v1/users/me", token: revoked,
			wantStatus: 401, wantCode: "unauthorized", wantMsg: "API token is invalid."},
		{name: "revoked token on a page", method: "GET", path: "/v1/pages/" + page, token: revoked,
			wantStatus: 401, wantCode: "unauthorized"},
		{name: "bad JSON", method: "POST", path: "/v1/search", token: token, body: "{not json",
			wantStatus: 400, wantCode: "invalid_json"},
		{name: "unknown path", method: "GET", path: "/v1/nothing", token: token,
			wantStatus: 400, wantCode: "invalid_request_url", wantMsg: "Invalid request URL."},
		{name: "wrong method", method: "PUT", path: "/v1/pages/" + page, token: token,
			wantStatus: 400, wantCode: "invalid_request_url"},
		{name: "not a uuid", method: "GET", path: "/v1/pages/abc", token: token,
			wantStatus: 400, wantCode: "validation_error"},
		{name: "body of the wrong shape", method: "POST", path: "/v1/search", token: token, body: `{"query": 5}`,
			wantStatus: 400, wantCode: "validation_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, tt.method, tt.path, tt.token, tt.body)
			if tt.noVersion {
				req.Header.Del("Notion-Version")
			}
			r := send(t, s.Client(), req)
			require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
			e := r.apiErr(t)
			assert.Equal(t, tt.wantCode, e.Code)
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, e.Message)
			}
		})
	}
}

func TestSuccessHeaders(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	r := do(t, s, "GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	assert.NotEmpty(t, r.header.Get("X-Notion-Request-Id"))
	assert.NotEmpty(t, r.header.Get("Cf-Ray"))
}

func TestAddTokenAndRevoke(t *testing.T) {
	t.Parallel()
	s := notiontest.New(t)
	const token = "secret_given_by_the_test"
	assert.Equal(t, 401, do(t, s, "GET", "/v1/users/me", token, nil).status)
	s.AddToken(token)
	r := do(t, s, "GET", "/v1/users/me", token, nil)
	require.Equal(t, 200, r.status)
	assert.Equal(t, s.BotID(token), r.json(t)["id"])
	s.RevokeToken(token)
	assert.Equal(t, 401, do(t, s, "GET", "/v1/users/me", token, nil).status)
	s.AddToken(token)
	assert.Equal(t, 200, do(t, s, "GET", "/v1/users/me", token, nil).status)
}

func TestNewTokenIsDistinct(t *testing.T) {
	t.Parallel()
	s := notiontest.New(t)
	a, b := s.NewToken(), s.NewToken()
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^ntn_[0-9a-f]{40}$`, a)
	assert.NotEqual(t, s.BotID(a), s.BotID(b))
}

func TestTransportDoesNotMutateRequest(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	req := newRequest(t, "GET", "/v1/users/me?x=1", token, nil)
	req.Host = "api.notion.com"
	before := req.Header.Clone()

	resp, err := s.Transport().RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Equal(t, "https://api.notion.com/v1/users/me?x=1", req.URL.String())
	assert.Equal(t, "api.notion.com", req.Host)
	assert.Equal(t, before, req.Header)
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/users/me", reqs[0].Path)
	assert.Equal(t, "x=1", reqs[0].RawQuery)
}

func TestTransportRoutesAnyHost(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	for _, base := range []string{"https://api.notion.com", "http://example.invalid:8080", s.URL} {
		req, err := http.NewRequest("GET", base+"/v1/users/me", nil)
		require.NoError(t, err)
		req.Header.Set("Notion-Version", "2022-06-28")
		req.Header.Set("Authorization", "Bearer "+token)
		assert.Equal(t, http.StatusOK, send(t, s.Client(), req).status, base)
	}
}

func TestConnections(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	assert.Equal(t, 0, s.Connections())
	for range 3 {
		do(t, s, "GET", "/v1/users/me", token, nil)
	}
	assert.Equal(t, 1, s.Connections(), "keep-alive reuses one connection")

	req := newRequest(t, "GET", "/v1/users/me", token, nil)
	req.Close = true
	send(t, s.Client(), req)
	do(t, s, "GET", "/v1/users/me", token, nil)
	assert.Equal(t, 2, s.Connections(), "a closed connection is replaced")
}

func TestCloseEndsPendingDelay(t *testing.T) {
	t.Parallel()
	s := notiontest.NewServer()
	token := s.NewToken()
	s.Inject(notiontest.Latency(time.Minute))

	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", apiBase+"/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return s.Count("", "") == 1 }, 2*time.Second, 5*time.Millisecond)

	start := time.Now()
	s.Close()
	s.Close() // idempotent
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Error(t, <-errc, "the delayed request gets no answer")
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := notiontest.New(t)
	root := s.Put(notiontest.Object{Title: "root"})
	s.SetRateLimit(notiontest.RateLimit{Budget: 1000, Window: time.Second})

	const workers, rounds = 16, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := s.NewToken()
			s.Share(root, token)
			client := newClient(s, token)
			ctx := context.Background()
			for i := range rounds {
				if _, err := client.User.Me(ctx); err != nil {
					t.Errorf("worker %d: users/me: %v", w, err)
					return
				}
				title := fmt.Sprintf("w%d-%d.", w, i)
				id := s.Put(notiontest.Object{Parent: root, Title: title})
				if i%5 == 0 {
					s.Inject(notiontest.Fault{Path: "/v1/nowhere", Status: 500})
					s.Unshare(id, token)
					s.Delete(id)
					_ = s.Requests()
				}
				if _, err := client.Search.Do(ctx, &notionapi.SearchRequest{Query: title}); err != nil {
					t.Errorf("worker %d: search: %v", w, err)
					return
				}
				_ = s.Count("POST", "/v1/*")
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, workers*rounds, s.Count("GET", "/v1/users/me"))
	assert.Equal(t, workers*rounds, s.Count("POST", "/v1/search"))
}
