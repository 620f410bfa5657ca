package notiontest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

func TestRequestLog(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	before := time.Now()
	do(t, s, "GET", "/v1/users/me", token, nil)
	do(t, s, "POST", "/v1/search", token, `{"query":"x"}`)
	do(t, s, "GET", "/v1/blocks/00000000-0000-4000-8000-000000000000/children?page_size=5", token, nil)
	do(t, s, "GET", "/v1/users/me", "", nil)

	reqs := s.Requests()
	require.Len(t, reqs, 4)
	tests := []struct {
		method, path, query, tokenHash, body string
		status                               int
	}{
		{"GET", "/v1/users/me", "", notiontest.TokenHash(token), "", 200},
		{"POST", "/v1/search", "", notiontest.TokenHash(token), `{"query":"x"}`, 200},
		{"GET", "/v1/blocks/00000000-0000-4000-8000-000000000000/children", "page_size=5", notiontest.TokenHash(token), "", 404},
		{"GET", "/v1/users/me", "", "", "", 401},
	}
	for i, want := range tests {
		got := reqs[i]
		assert.Equal(t, want.method, got.Method, "request %d", i)
		assert.Equal(t, want.path, got.Path, "request %d", i)
		assert.Equal(t, want.query, got.RawQuery, "request %d", i)
		assert.Equal(t, want.tokenHash, got.TokenHash, "request %d", i)
		assert.Equal(t, want.body, string(got.Body), "request %d", i)
		assert.Equal(t, want.status, got.Status, "request %d", i)
		assert.False(t, got.Time.Before(before), "request %d", i)
		if i > 0 {
			assert.False(t, got.Time.Before(reqs[i-1].Time), "arrival order")
		}
	}
	assert.NotContains(t, fmt.Sprintf("%+v", reqs), token, "the log never holds the token")

	counts := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/users/me", 2},
		{"get", "/v1/users/me", 2},
		{"POST", "/v1/users/me", 0},
		{"", "/v1/*", 4},
		{"GET", "/v1/blocks/*", 1},
		{"", "", 4},
		{"POST", "", 1},
	}
	for _, c := range counts {
		assert.Equal(t, c.want, s.Count(c.method, c.path), "Count(%q, %q)", c.method, c.path)
	}

	reqs[1].Body[0] = 'X'
	assert.Equal(t, `{"query":"x"}`, string(s.Requests()[1].Body), "Requests returns a copy")

	s.ResetRequests()
	assert.Empty(t, s.Requests())
	assert.Equal(t, 0, s.Count("", ""))
	do(t, s, "GET", "/v1/users/me", token, nil)
	assert.Equal(t, 1, s.Count("GET", "/v1/users/me"))
}

func TestRequestLogBodyLimit(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	big := `{"query":"` + strings.Repeat("a", 100<<10) + `"}`
	r := do(t, s, "POST", "/v1/search", token, big)
	assert.Equal(t, http.StatusOK, r.status, "the fake reads the whole body")
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Len(t, reqs[0].Body, 64<<10)
	assert.Equal(t, big[:64<<10], string(reqs[0].Body))
}

func TestTokenHash(t *testing.T) {
	t.Parallel()
	tokens := []string{"", "ntn_", "ntn_0123456789abcdef", "secret_" + strings.Repeat("z", 60), "0123456789abcdef"}
	seen := map[string]string{}
	for _, token := range tokens {
		h := notiontest.TokenHash(token)
		assert.Regexp(t, `^[0-9a-f]{16}$`, h, "TokenHash(%q)", token)
		assert.Equal(t, h, notiontest.TokenHash(token), "deterministic")
		if token != "" {
			assert.NotEqual(t, token, h)
			assert.NotContains(t, h, token)
		}
		if prev, dup := seen[h]; dup {
			t.Errorf("TokenHash(%q) == TokenHash(%q)", token, prev)
		}
		seen[h] = token
	}
	// sha256("abc") starts ba7816bf8f01cfea.
	assert.Equal(t, "ba7816bf8f01cfea", notiontest.TokenHash("abc"))
}
