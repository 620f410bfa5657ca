package notiontest

import (
	"net/http"
	"time"
)

// The fake's OAuth: POST /v1/oauth/token, /v1/oauth/introspect and
// /v1/oauth/revoke, each with HTTP Basic client credentials and a JSON body.

type oauthClient struct {
	secret      string
	redirectURI string // "": not checked
}

type authCode struct {
	clientID string
	used     bool
}

// grant is one authorization: its bot, and the refresh token now valid.
type grant struct {
	clientID string
	bot      *bot
	refresh  string
	issued   time.Time // of the refresh token
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
// POST /v1/oauth/token. Each exchange grants a new bot user.
func (s *Server) NewAuthCode(clientID string) string {
	code := randomHex(16)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &authCode{clientID: clientID}
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

// serveOAuth answers a request under /v1/oauth/.
func (s *Server) serveOAuth(c *call) {
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
		if want := s.clients[clientID].redirectURI; want != "" && req.RedirectURI != want {
			return nil, oauthError("invalid_grant", "Invalid redirect_uri.")
		}
		ac.used = true
		g = &grant{clientID: clientID, bot: newBot()}
	case "refresh_token":
		if req.RefreshToken == "" {
			return nil, oauthError("invalid_request", "refresh_token is required.")
		}
		g = s.grants[req.RefreshToken]
		if g == nil || g.clientID != clientID {
			return nil, oauthError("invalid_grant", "Invalid refresh token.")
		}
		delete(s.grants, req.RefreshToken) // rotation: the old one is spent
	default:
		return nil, oauthError("unsupported_grant_type", "Unsupported grant_type.")
	}

	now := time.Now()
	access := "ntn_" + randomHex(20)
	s.tokens[access] = &tokenInfo{bot: g.bot, active: true, issued: now}
	g.refresh, g.issued = "nrt_"+randomHex(20), now
	s.grants[g.refresh] = g
	return map[string]any{
		"access_token":           access,
		"token_type":             "bearer",
		"refresh_token":          g.refresh,
		"bot_id":                 g.bot.id,
		"workspace_id":           s.workspaceID,
		"workspace_name":         s.workspaceName,
		"workspace_icon":         nil,
		"owner":                  map[string]any{"type": "workspace", "workspace": true},
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
