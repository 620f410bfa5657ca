package notiontest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

const (
	clientID     = "client-id"
	clientSecret = "client-secret"
	redirectURI  = "https://app.example/callback"
)

// oauth posts body to /v1/oauth/<endpoint> with the client's Basic
// credentials.
func oauth(t *testing.T, s *notiontest.Server, endpoint, id, secret string, body any) response {
	t.Helper()
	req := newRequest(t, "POST", "/v1/oauth/"+endpoint, "", body)
	req.SetBasicAuth(id, secret)
	return send(t, s.Client(), req)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	BotID        string `json:"bot_id"`
	WorkspaceID  string `json:"workspace_id"`
	RequestID    string `json:"request_id"`
}

func exchange(t *testing.T, s *notiontest.Server) tokenResponse {
	t.Helper()
	r := oauth(t, s, "token", clientID, clientSecret, map[string]any{
		"grant_type": "authorization_code", "code": s.NewAuthCode(clientID), "redirect_uri": redirectURI,
	})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var tr tokenResponse
	require.NoError(t, json.Unmarshal(r.body, &tr))
	return tr
}

func newOAuthServer(t *testing.T) *notiontest.Server {
	s := notiontest.New(t)
	s.AddOAuthClient(clientID, clientSecret, redirectURI)
	return s
}

func TestOAuthExchange(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	r := oauth(t, s, "token", clientID, clientSecret, map[string]any{
		"grant_type": "authorization_code", "code": s.NewAuthCode(clientID), "redirect_uri": redirectURI,
	})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	m := r.json(t)
	for _, key := range []string{"access_token", "refresh_token", "bot_id", "workspace_id", "workspace_name", "request_id"} {
		assert.NotEmpty(t, m[key], key)
	}
	assert.Equal(t, "bearer", m["token_type"])
	assert.Nil(t, m["workspace_icon"])
	assert.Nil(t, m["duplicated_template_id"])
	assert.Contains(t, m, "duplicated_template_id")
	assert.Equal(t, map[string]any{"type": "workspace", "workspace": true}, m["owner"])
	assert.Equal(t, m["request_id"], r.header.Get("X-Notion-Request-Id"))

	access := m["access_token"].(string)
	me := do(t, s, "GET", "/v1/users/me", access, nil)
	require.Equal(t, http.StatusOK, me.status, "an OAuth token is a valid API token")
	assert.Equal(t, m["bot_id"], me.json(t)["id"])
	assert.Equal(t, m["bot_id"], s.BotID(access))
}

func TestOAuthExchangeThroughNotionapi(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	client := notionapi.NewClient("", notionapi.WithHTTPClient(s.Client()),
		notionapi.WithOAuthAppCredentials(clientID, clientSecret))
	ctx := context.Background()

	res, err := client.Authentication.CreateToken(ctx, &notionapi.TokenCreateRequest{
		Code: s.NewAuthCode(clientID), GrantType: "authorization_code", RedirectUri: redirectURI,
	})
	require.NoError(t, err)
	assert.NotEmpty(t, res.AccessToken)
	assert.Equal(t, s.BotID(res.AccessToken), res.BotId)

	_, err = client.Authentication.CreateToken(ctx, &notionapi.TokenCreateRequest{
		Code: "used-or-unknown", GrantType: "authorization_code", RedirectUri: redirectURI,
	})
	var tokenErr *notionapi.TokenCreateError
	require.ErrorAs(t, err, &tokenErr)
	assert.Equal(t, notionapi.ErrorCode("invalid_grant"), tokenErr.Code)
}

func TestOAuthRefreshRotation(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	first := exchange(t, s)
	page := s.Put(notiontest.Object{Title: "shared with the first token"})
	s.Share(page, first.AccessToken)

	refresh := func(token string) response {
		return oauth(t, s, "token", clientID, clientSecret, map[string]any{"grant_type": "refresh_token", "refresh_token": token})
	}
	r := refresh(first.RefreshToken)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var second tokenResponse
	require.NoError(t, json.Unmarshal(r.body, &second))
	assert.NotEqual(t, first.AccessToken, second.AccessToken, "a new access token")
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken, "a new refresh token")
	assert.Equal(t, first.BotID, second.BotID, "the same bot")

	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/pages/"+page, second.AccessToken, nil).status,
		"the new access token sees what the old one saw")

	r = refresh(first.RefreshToken)
	require.Equal(t, http.StatusBadRequest, r.status, "the rotated refresh token is spent")
	assert.Equal(t, "invalid_grant", r.json(t)["error"])

	assert.Equal(t, http.StatusOK, refresh(second.RefreshToken).status)
}

func TestOAuthErrors(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	s.AddOAuthClient("other-client", "other-secret", "")
	used := s.NewAuthCode(clientID)
	exchangeBody := func(code string) map[string]any {
		return map[string]any{"grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI}
	}
	require.Equal(t, http.StatusOK, oauth(t, s, "token", clientID, clientSecret, exchangeBody(used)).status)

	tests := []struct {
		name       string
		id, secret string
		endpoint   string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"wrong secret", clientID, "nope", "token", exchangeBody(s.NewAuthCode(clientID)), 401, "invalid_client"},
		{"unknown client", "nobody", clientSecret, "token", exchangeBody(s.NewAuthCode(clientID)), 401, "invalid_client"},
		{"wrong secret on introspect", clientID, "nope", "introspect", map[string]any{"token": "x"}, 401, "invalid_client"},
		{"code used twice", clientID, clientSecret, "token", exchangeBody(used), 400, "invalid_grant"},
		{"unknown code", clientID, clientSecret, "token", exchangeBody("nope"), 400, "invalid_grant"},
		{"code of another client", "other-client", "other-secret", "token", exchangeBody(s.NewAuthCode(clientID)), 400, "invalid_grant"},
		{"redirect mismatch", clientID, clientSecret, "token",
			map[string]any{"grant_type": "authorization_code", "code": s.NewAuthCode(clientID), "redirect_uri": "https://evil.example"},
			400, "invalid_grant"},
		{"unknown refresh token", clientID, clientSecret, "token",
			map[string]any{"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"},
		{"unsupported grant", clientID, clientSecret, "token", map[string]any{"grant_type": "password"}, 400, "unsupported_grant_type"},
		{"not JSON", clientID, clientSecret, "token", "grant_type=authorization_code", 400, "invalid_request"},
	}
	for _, shape := range []string{"oauth", "notion"} {
		for _, tt := range tests {
			t.Run(shape+"/"+tt.name, func(t *testing.T) {
				s.SetNotionErrorShape(shape == "notion")
				r := oauth(t, s, tt.endpoint, tt.id, tt.secret, tt.body)
				require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
				if shape == "notion" {
					e := r.apiErr(t)
					assert.Equal(t, tt.wantCode, e.Code)
					assert.NotEmpty(t, e.Message)
					return
				}
				var e struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				require.NoError(t, json.Unmarshal(r.body, &e))
				assert.Equal(t, tt.wantCode, e.Error)
				assert.NotEmpty(t, e.Description)
			})
		}
	}

	// Redirect URIs are not checked for clients registered without one.
	r := oauth(t, s, "token", "other-client", "other-secret",
		map[string]any{"grant_type": "authorization_code", "code": s.NewAuthCode("other-client")})
	assert.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	r = do(t, s, "GET", "/v1/oauth/token", "", nil)
	assert.Equal(t, "invalid_request_url", r.apiErr(t).Code)
}

func TestOAuthIntrospectAndRevoke(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	tr := exchange(t, s)
	apiToken := s.NewToken()

	introspect := func(token string) map[string]any {
		r := oauth(t, s, "introspect", clientID, clientSecret, map[string]any{"token": token})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		m := r.json(t)
		assert.NotEmpty(t, m["request_id"])
		return m
	}
	for _, token := range []string{tr.AccessToken, tr.RefreshToken, apiToken} {
		m := introspect(token)
		assert.Equal(t, true, m["active"])
		assert.NotEmpty(t, m["scope"])
		assert.Greater(t, m["iat"], float64(0))
	}
	assert.Equal(t, false, introspect("unknown")["active"])

	r := oauth(t, s, "revoke", clientID, clientSecret, map[string]any{"token": tr.AccessToken})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.NotEmpty(t, r.json(t)["request_id"])

	assert.Equal(t, false, introspect(tr.AccessToken)["active"])
	assert.Equal(t, http.StatusUnauthorized, do(t, s, "GET", "/v1/users/me", tr.AccessToken, nil).status)
	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", apiToken, nil).status)

	r = oauth(t, s, "revoke", clientID, clientSecret, map[string]any{"token": tr.RefreshToken})
	require.Equal(t, http.StatusOK, r.status)
	r = oauth(t, s, "token", clientID, clientSecret, map[string]any{"grant_type": "refresh_token", "refresh_token": tr.RefreshToken})
	assert.Equal(t, http.StatusBadRequest, r.status, "a revoked refresh token is spent")
}

// authorize GETs the authorize page with query and returns the answer
// without following its redirect.
func authorize(t *testing.T, s *notiontest.Server, query url.Values) *http.Response {
	t.Helper()
	client := &http.Client{
		Transport:     s.Transport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet,
		apiBase+"/v1/oauth/authorize?"+query.Encode(), nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func authorizeQuery(redirect string) url.Values {
	return url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"owner": {"user"}, "state": {"st-123"}}
}

func TestOAuthAuthorize(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)

	resp := authorize(t, s, authorizeQuery(redirectURI))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "app.example", loc.Host)
	assert.Equal(t, "/callback", loc.Path)
	assert.Equal(t, "st-123", loc.Query().Get("state"))
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)
	assert.Empty(t, loc.Query().Get("error"))

	r := oauth(t, s, "token", clientID, clientSecret, map[string]any{
		"grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI,
	})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	owner, _ := r.json(t)["owner"].(map[string]any)
	assert.Equal(t, "user", owner["type"], "owner=user gives a user-owned grant")
	user, _ := owner["user"].(map[string]any)
	assert.NotEmpty(t, user["id"])
	assert.Equal(t, map[string]any{"email": "user@notiontest.example"}, user["person"])
	var tr tokenResponse
	require.NoError(t, json.Unmarshal(r.body, &tr))
	r = refreshGrant(t, s, tr.RefreshToken)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.Equal(t, owner, r.json(t)["owner"], "a refresh keeps the owner")

	r = oauth(t, s, "token", clientID, clientSecret, map[string]any{
		"grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI,
	})
	assert.Equal(t, http.StatusBadRequest, r.status, "a code is used once")

	q := authorizeQuery(redirectURI)
	q.Del("owner")
	resp = authorize(t, s, q)
	loc, err = url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	r = oauth(t, s, "token", clientID, clientSecret, map[string]any{
		"grant_type": "authorization_code", "code": loc.Query().Get("code"), "redirect_uri": redirectURI,
	})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	assert.Equal(t, map[string]any{"type": "workspace", "workspace": true}, r.json(t)["owner"])

	s.DenyAuthorizations(true)
	resp = authorize(t, s, authorizeQuery(redirectURI))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err = url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "access_denied", loc.Query().Get("error"))
	assert.Equal(t, "st-123", loc.Query().Get("state"))
	assert.Empty(t, loc.Query().Get("code"))

	s.DenyAuthorizations(false)
	resp = authorize(t, s, authorizeQuery(redirectURI))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), "code=")
}

func TestOAuthAuthorizeRedirectURI(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	s.AddOAuthClient("open-client", "open-secret", "")

	// A client registered without a redirect URI gets the one it sends,
	// query kept, and must send it again to exchange the code.
	q := authorizeQuery("https://other.example/cb?tenant=7")
	q.Set("client_id", "open-client")
	resp := authorize(t, s, q)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "other.example", loc.Host)
	assert.Equal(t, "7", loc.Query().Get("tenant"))
	code := loc.Query().Get("code")
	r := oauth(t, s, "token", "open-client", "open-secret", map[string]any{
		"grant_type": "authorization_code", "code": code, "redirect_uri": "https://elsewhere.example/cb",
	})
	assert.Equal(t, http.StatusBadRequest, r.status, "redirect_uri must match the authorize request")
	r = oauth(t, s, "token", "open-client", "open-secret", map[string]any{
		"grant_type": "authorization_code", "code": code, "redirect_uri": "https://other.example/cb?tenant=7",
	})
	assert.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	// A client registered with one may leave it out.
	q = authorizeQuery("")
	q.Del("redirect_uri")
	resp = authorize(t, s, q)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), redirectURI+"?"), resp.Header.Get("Location"))

	bad := []struct {
		name  string
		query url.Values
	}{
		{"unknown client", func() url.Values { q := authorizeQuery(redirectURI); q.Set("client_id", "nobody"); return q }()},
		{"redirect mismatch", authorizeQuery("https://evil.example/cb")},
		{"no redirect at all", func() url.Values {
			q := authorizeQuery("")
			q.Set("client_id", "open-client")
			q.Del("redirect_uri")
			return q
		}()},
		{"response type", func() url.Values { q := authorizeQuery(redirectURI); q.Set("response_type", "token"); return q }()},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp := authorize(t, s, tt.query)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"), "never redirects to an untrusted address")
		})
	}
}

func refreshGrant(t *testing.T, s *notiontest.Server, token string) response {
	t.Helper()
	return oauth(t, s, "token", clientID, clientSecret, map[string]any{"grant_type": "refresh_token", "refresh_token": token})
}

func TestOAuthKillFamilyOnReuse(t *testing.T) {
	t.Parallel()
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[kill], func(t *testing.T) {
			s := newOAuthServer(t)
			s.KillFamilyOnReuse(kill)
			first := exchange(t, s)
			other := exchange(t, s) // another grant, never affected
			r := refreshGrant(t, s, first.RefreshToken)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			var second tokenResponse
			require.NoError(t, json.Unmarshal(r.body, &second))

			r = refreshGrant(t, s, first.RefreshToken)
			require.Equal(t, http.StatusBadRequest, r.status, "reuse is refused either way")
			assert.Equal(t, "invalid_grant", r.json(t)["error"])

			want := http.StatusOK
			if kill {
				want = http.StatusUnauthorized
			}
			assert.Equal(t, want, do(t, s, "GET", "/v1/users/me", second.AccessToken, nil).status, "current access token")
			assert.Equal(t, want, do(t, s, "GET", "/v1/users/me", first.AccessToken, nil).status, "older access token")
			wantRefresh := http.StatusOK
			if kill {
				wantRefresh = http.StatusBadRequest
			}
			assert.Equal(t, wantRefresh, refreshGrant(t, s, second.RefreshToken).status, "current refresh token")

			assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/users/me", other.AccessToken, nil).status)
			assert.Equal(t, http.StatusOK, refreshGrant(t, s, other.RefreshToken).status)
		})
	}
}

func TestOAuthRefreshCount(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	assert.Equal(t, 0, s.RefreshCount())
	first := exchange(t, s)
	assert.Equal(t, 0, s.RefreshCount(), "an exchange is not a refresh")
	require.Equal(t, http.StatusOK, refreshGrant(t, s, first.RefreshToken).status)
	assert.Equal(t, 1, s.RefreshCount())
	require.Equal(t, http.StatusBadRequest, refreshGrant(t, s, first.RefreshToken).status)
	assert.Equal(t, 2, s.RefreshCount(), "failed refreshes count too")
	r := oauth(t, s, "token", clientID, "wrong", map[string]any{"grant_type": "refresh_token", "refresh_token": "x"})
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, 2, s.RefreshCount(), "a request from an unknown client is not handled")
}

func TestOAuthDropNextRefreshResponse(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	first := exchange(t, s)
	s.DropNextRefreshResponse()

	// An unknown refresh token fails as usual and leaves the drop armed.
	require.Equal(t, http.StatusBadRequest, refreshGrant(t, s, "nope").status)

	req := newRequest(t, "POST", "/v1/oauth/token", "", map[string]any{
		"grant_type": "refresh_token", "refresh_token": first.RefreshToken,
	})
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := s.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the connection is reset without an answer")
	assert.Equal(t, 2, s.RefreshCount())

	// The server did rotate: the old refresh token is spent.
	r := refreshGrant(t, s, first.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "invalid_grant", r.json(t)["error"])

	// Only once: the next refresh of a live grant answers.
	other := exchange(t, s)
	assert.Equal(t, http.StatusOK, refreshGrant(t, s, other.RefreshToken).status)
}

func TestOAuthWorkspace(t *testing.T) {
	t.Parallel()
	s := newOAuthServer(t)
	acme := s.NewWorkspace("Acme")
	unnamed := s.NewWorkspace("")

	// codeFromPage authorizes on the authorize page, into the workspace
	// the fake's workspace_id parameter names ("": none sent).
	codeFromPage := func(workspace string) string {
		q := authorizeQuery(redirectURI)
		if workspace != "" {
			q.Set("workspace_id", workspace)
		}
		resp := authorize(t, s, q)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		return loc.Query().Get("code")
	}
	tests := []struct {
		name     string
		code     func() string
		wantID   string
		wantName any
	}{
		{"NewAuthCode: the default workspace", func() string { return s.NewAuthCode(clientID) }, s.Workspace(), "notiontest workspace"},
		{"NewAuthCodeIn", func() string { return s.NewAuthCodeIn(clientID, acme) }, acme, "Acme"},
		{"NewAuthCodeIn, no name", func() string { return s.NewAuthCodeIn(clientID, unnamed) }, unnamed, nil},
		{"authorize page: the default workspace", func() string { return codeFromPage("") }, s.Workspace(), "notiontest workspace"},
		{"authorize page, workspace_id", func() string { return codeFromPage(acme) }, acme, "Acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oauth(t, s, "token", clientID, clientSecret, map[string]any{
				"grant_type": "authorization_code", "code": tt.code(), "redirect_uri": redirectURI,
			})
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			m := r.json(t)
			assert.Equal(t, tt.wantID, m["workspace_id"])
			require.Contains(t, m, "workspace_name")
			assert.Equal(t, tt.wantName, m["workspace_name"])
			access, _ := m["access_token"].(string)
			assert.Equal(t, tt.wantID, s.WorkspaceOf(access))
			me := do(t, s, "GET", "/v1/users/me", access, nil)
			require.Equal(t, http.StatusOK, me.status)
			bot, _ := me.json(t)["bot"].(map[string]any)
			assert.Equal(t, tt.wantName, bot["workspace_name"])

			// A refresh stays in the grant's workspace.
			refresh, _ := m["refresh_token"].(string)
			r = refreshGrant(t, s, refresh)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			m = r.json(t)
			assert.Equal(t, tt.wantID, m["workspace_id"])
			assert.Equal(t, tt.wantName, m["workspace_name"])
			refreshed, _ := m["access_token"].(string)
			assert.Equal(t, tt.wantID, s.WorkspaceOf(refreshed))
			assert.Equal(t, s.BotID(access), s.BotID(refreshed), "one grant, one bot")
		})
	}

	t.Run("unknown workspace", func(t *testing.T) {
		assert.Empty(t, s.NewAuthCodeIn(clientID, "00000000-0000-4000-8000-000000000000"), "no code")
		q := authorizeQuery(redirectURI)
		q.Set("workspace_id", "00000000-0000-4000-8000-000000000000")
		resp := authorize(t, s, q)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Location"))
	})
}
