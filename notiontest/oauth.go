package notiontest

import (
	"net/http"
	"net/url"
	"time"
)

// The fake's OAuth: GET /v1/oauth/authorize, which plays the consent
// screen, and POST /v1/oauth/token, /v1/oauth/introspect and
// /v1/oauth/revoke, each with HTTP Basic client credentials and a JSON body.

type oauthClient struct {
	secret      string
	redirectURI string // "": not checked
}

type authCode struct {
	clientID    string
	redirectURI string     // sent to the authorize page; "": the client's
	userOwned   bool       // authorized with owner=user
	ws          *workspace // the workspace authorized into
	used        bool
}

// grant is one authorization: its bot (and so its workspace), the refresh
// token now valid, and every access token it issued (its token family).
type grant struct {
	clientID string
	bot      *bot
	refresh  string    // "" once the grant is dead
	issued   time.Time // of the refresh token
	access   []string  // access tokens issued, oldest first
	user     bool      // owned by the user who authorized it, not the workspace
}

// oauthScope is what introspection reports for an active token. Notion does
// not document the value.
const oauthScope = "read_content update_content insert_content"

// AddOAuthClient registers an OAuth client (a public connection). When
// redirectURI is not empty, code exchanges must send the same redirect_uri.
func (s *Server) AddOAuthClient(id, secret, redirectURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = &oauthClient{secret: secret, redirectURI: redirectURI}
}

// NewAuthCode returns an authorization code, as Notion's authorize page
// hands to the redirect URI, that clientID can exchange once at
// POST /v1/oauth/token. Each exchange grants a new bot user in the server's
// default workspace ([Server.Workspace]).
func (s *Server) NewAuthCode(clientID string) string {
	return s.NewAuthCodeIn(clientID, s.workspace.id)
}

// NewAuthCodeIn is [Server.NewAuthCode] for a grant in the workspace with
// the given id (dashed or not): the token endpoint answers with its
// workspace_id and workspace_name, and the grant's tokens, refreshed ones
// included, belong to it. It returns "" and mints nothing when the server
// has no such workspace.
func (s *Server) NewAuthCodeIn(clientID, workspace string) string {
	code := randomHex(16)
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspaceLocked(workspace)
	if ws == nil {
		return ""
	}
	s.codes[code] = &authCode{clientID: clientID, ws: ws}
	return code
}

// SetNotionErrorShape chooses the shape of OAuth endpoint errors: when on,
// Notion's {"object":"error","status":...,"code":...,"message":...}; when
// off (the default), OAuth's {"error":...,"error_description":...}. Notion
// has been seen answering both.
func (s *Server) SetNotionErrorShape(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notionShape = on
}

// DenyAuthorizations makes GET /v1/oauth/authorize answer as if the user
// pressed Cancel (when on): a redirect with error=access_denied and the
// state, and no code.
func (s *Server) DenyAuthorizations(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyAuth = on
}

// KillFamilyOnReuse makes a reused refresh token fatal to its grant (when
// on): presenting a refresh token that a refresh has already rotated still
// fails with invalid_grant, and also revokes every access token the grant
// issued and its current refresh token, as third parties report Notion
// does. When off (the default) only the reused token is refused.
func (s *Server) KillFamilyOnReuse(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killFamily = on
}

// RefreshCount reports how many refresh_token grants POST
// /v1/oauth/token has handled for a known client: successful or not,
// including one whose answer [Server.DropNextRefreshResponse] dropped.
func (s *Server) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// DropNextRefreshResponse makes the next successful refresh lose its
// answer: the server rotates the grant (the old refresh token is spent and
// a new pair is issued), then resets the connection without answering, as
// when a network failure strikes after Notion did its work. The caller
// never learns the new pair. It applies once.
func (s *Server) DropNextRefreshResponse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropRefresh = true
}

// serveOAuth answers a request under /v1/oauth/.
func (s *Server) serveOAuth(c *call) {
	if c.r.URL.Path == "/v1/oauth/authorize" && c.r.Method == http.MethodGet {
		s.oauthAuthorize(c)
		return
	}
	var serve func(*call, string) (any, *apiError)
	switch c.r.URL.Path {
	case "/v1/oauth/token":
		serve = s.oauthToken
	case "/v1/oauth/introspect":
		serve = s.oauthIntrospect
	case "/v1/oauth/revoke":
		serve = s.oauthRevoke
	}
	if serve == nil || c.r.Method != http.MethodPost {
		c.fail(invalidRequestURL(), nil)
		return
	}
	var body any
	clientID, e := s.oauthClientID(c)
	if e == nil {
		body, e = serve(c, clientID)
	}
	if e == nil && c.drop {
		c.reset()
		return
	}
	if e == nil {
		c.send(http.StatusOK, body, nil)
		return
	}
	s.mu.Lock()
	notionShape := s.notionShape
	s.mu.Unlock()
	if notionShape {
		c.fail(e, nil)
		return
	}
	c.send(e.status, map[string]any{"error": e.code, "error_description": e.message}, nil)
}

// oauthClientID checks c's Basic credentials and returns the client id.
func (s *Server) oauthClientID(c *call) (string, *apiError) {
	id, secret, ok := c.r.BasicAuth()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl := s.clients[id]; !ok || cl == nil || cl.secret != secret {
		return "", &apiError{http.StatusUnauthorized, "invalid_client", "Invalid client credentials.", nil}
	}
	return id, nil
}

func oauthError(code, message string) *apiError {
	return &apiError{http.StatusBadRequest, code, message, nil}
}

// oauthAuthorize answers GET /v1/oauth/authorize as Notion's consent
// screen does once the user has chosen: a 302 to the redirect URI with a
// code and the state, or with error=access_denied and the state when
// [Server.DenyAuthorizations] is on. A request that names no known client,
// or a redirect URI other than the client's, gets a 400 and no redirect:
// the fake, like Notion, never redirects to an address it cannot trust.
//
// The workspace the user picks on Notion's screen is the default one, or
// the one a workspace_id parameter names: the fake's own parameter, not
// Notion's. An unknown workspace_id gets a 400 too.
func (s *Server) oauthAuthorize(c *call) {
	q := c.r.URL.Query()
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	cl := s.clients[clientID]
	deny := s.denyAuth
	ws := s.workspace
	if id := q.Get("workspace_id"); id != "" {
		ws = s.workspaceLocked(id)
	}
	s.mu.Unlock()
	switch {
	case cl == nil:
		c.fail(oauthError("invalid_request", "Invalid client_id."), nil)
		return
	case ws == nil:
		c.fail(oauthError("invalid_request", "Invalid workspace_id."), nil)
		return
	case redirectURI == "" && cl.redirectURI == "":
		c.fail(oauthError("invalid_request", "redirect_uri is required."), nil)
		return
	case redirectURI != "" && cl.redirectURI != "" && redirectURI != cl.redirectURI:
		c.fail(oauthError("invalid_request", "Invalid redirect_uri."), nil)
		return
	case q.Get("response_type") != "code":
		c.fail(oauthError("invalid_request", "response_type must be code."), nil)
		return
	}
	target := redirectURI
	if target == "" {
		target = cl.redirectURI
	}
	u, err := url.Parse(target)
	if err != nil || !u.IsAbs() {
		c.fail(oauthError("invalid_request", "Invalid redirect_uri."), nil)
		return
	}
	v := u.Query()
	if deny {
		v.Set("error", "access_denied")
	} else {
		code := randomHex(16)
		s.mu.Lock()
		s.codes[code] = &authCode{clientID: clientID, redirectURI: redirectURI, userOwned: q.Get("owner") == "user", ws: ws}
		s.mu.Unlock()
		v.Set("code", code)
	}
	if state := q.Get("state"); state != "" {
		v.Set("state", state)
	}
	u.RawQuery = v.Encode()
	h := c.w.Header()
	h.Set("Location", u.String())
	h.Set(headerRequestID, c.requestID)
	c.status = http.StatusFound
	c.w.WriteHeader(http.StatusFound)
}

func (s *Server) oauthToken(c *call, clientID string) (any, *apiError) {
	var req struct {
		GrantType    string `json:"grant_type"`
		Code         string `json:"code"`
		RedirectURI  string `json:"redirect_uri"`
		RefreshToken string `json:"refresh_token"`
	}
	if e := c.decodeBody(&req); e != nil {
		return nil, oauthError("invalid_request", "Request body must be a JSON object.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *grant
	switch req.GrantType {
	case "authorization_code":
		if req.Code == "" {
			return nil, oauthError("invalid_request", "code is required.")
		}
		ac := s.codes[req.Code]
		if ac == nil || ac.used || ac.clientID != clientID {
			return nil, oauthError("invalid_grant", "Invalid code.")
		}
		want := ac.redirectURI
		if want == "" {
			want = s.clients[clientID].redirectURI
		}
		if want != "" && req.RedirectURI != want {
			return nil, oauthError("invalid_grant", "Invalid redirect_uri.")
		}
		ac.used = true
		g = &grant{clientID: clientID, bot: newBot(ac.ws), user: ac.userOwned}
	case "refresh_token":
		if req.RefreshToken == "" {
			return nil, oauthError("invalid_request", "refresh_token is required.")
		}
		s.refreshes++
		g = s.grants[req.RefreshToken]
		if g == nil || g.clientID != clientID {
			if old := s.spent[req.RefreshToken]; old != nil && old.clientID == clientID && s.killFamily {
				s.killLocked(old)
			}
			return nil, oauthError("invalid_grant", "Invalid refresh token.")
		}
		delete(s.grants, req.RefreshToken) // rotation: the old one is spent
		s.spent[req.RefreshToken] = g
		if s.dropRefresh {
			s.dropRefresh = false
			c.drop = true
		}
	default:
		return nil, oauthError("unsupported_grant_type", "Unsupported grant_type.")
	}

	now := s.now()
	access := "ntn_" + randomHex(20)
	s.tokens[access] = &tokenInfo{bot: g.bot, active: true, issued: now}
	g.access = append(g.access, access)
	g.refresh, g.issued = "nrt_"+randomHex(20), now
	s.grants[g.refresh] = g
	return map[string]any{
		"access_token":           access,
		"token_type":             "bearer",
		"refresh_token":          g.refresh,
		"bot_id":                 g.bot.id,
		"workspace_id":           g.bot.ws.id,
		"workspace_name":         g.bot.ws.nameJSON(),
		"workspace_icon":         nil,
		"owner":                  s.ownerLocked(g),
		"duplicated_template_id": nil,
		"request_id":             c.requestID,
	}, nil
}

// tokenRequest is the body of introspect and revoke.
type tokenRequest struct {
	Token string `json:"token"`
}

// oauthIntrospect reports whether an access token (or a current refresh
// token) is active.
func (s *Server) oauthIntrospect(c *call, _ string) (any, *apiError) {
	var req tokenRequest
	if e := c.decodeBody(&req); e != nil || req.Token == "" {
		return nil, oauthError("invalid_request", "token is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var issued time.Time
	if ti := s.tokens[req.Token]; ti != nil && ti.active {
		issued = ti.issued
	} else if g := s.grants[req.Token]; g != nil {
		issued = g.issued
	} else {
		return map[string]any{"active": false, "request_id": c.requestID}, nil
	}
	return map[string]any{
		"active":     true,
		"scope":      oauthScope,
		"iat":        issued.Unix(),
		"request_id": c.requestID,
	}, nil
}

// oauthRevoke revokes an access token, or spends a refresh token. Unknown
// tokens are not an error.
func (s *Server) oauthRevoke(c *call, _ string) (any, *apiError) {
	var req tokenRequest
	if e := c.decodeBody(&req); e != nil || req.Token == "" {
		return nil, oauthError("invalid_request", "token is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ti := s.tokens[req.Token]; ti != nil {
		ti.active = false
	}
	delete(s.grants, req.Token)
	return map[string]any{"request_id": c.requestID}, nil
}

// Who authorizes with owner=user in the fake: one person, a member of every
// workspace.
const (
	userName  = "notiontest user"
	userEmail = "user@notiontest.example"
)

// ownerLocked is the owner object of g's token responses: the user who
// authorized it (owner=user on the authorize page), else the workspace.
func (s *Server) ownerLocked(g *grant) map[string]any {
	if !g.user {
		return map[string]any{"type": "workspace", "workspace": true}
	}
	return map[string]any{"type": "user", "user": map[string]any{
		"object": "user", "id": s.ownerID, "name": userName, "avatar_url": nil,
		"type": "person", "person": map[string]any{"email": userEmail},
	}}
}

// killLocked revokes g's whole token family: every access token it issued
// and its current refresh token.
func (s *Server) killLocked(g *grant) {
	for _, a := range g.access {
		if ti := s.tokens[a]; ti != nil {
			ti.active = false
		}
	}
	delete(s.grants, g.refresh)
	g.refresh = ""
}
