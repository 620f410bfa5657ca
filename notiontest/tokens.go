package notiontest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// bot is the bot user behind one or more tokens. Sharing is recorded per
// bot, so every token of a grant sees the same objects. A bot belongs to one
// workspace, and so do its tokens.
type bot struct {
	id   string
	name string
	ws   *workspace
}

type tokenInfo struct {
	bot    *bot
	active bool      // false: unknown to the API, or revoked
	issued time.Time // for introspection's iat
}

// NewToken mints a random valid bearer token ("ntn_" and hex digits) with
// its own bot user, in the server's default workspace ([Server.Workspace]).
func (s *Server) NewToken() string {
	return s.NewTokenIn(s.workspace.id)
}

// NewTokenIn is [Server.NewToken] in the workspace with the given id (from
// [Server.NewWorkspace] or [Server.Workspace], dashed or not). It returns ""
// and mints nothing when the server has no such workspace.
func (s *Server) NewTokenIn(workspace string) string {
	token := "ntn_" + randomHex(20)
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspaceLocked(workspace)
	if ws == nil {
		return ""
	}
	s.tokens[token] = &tokenInfo{bot: newBot(ws), active: true, issued: s.now()}
	return token
}

// AddToken registers token as valid, with its own bot user in the default
// workspace unless the server has seen it before. It also undoes
// [Server.RevokeToken].
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti := s.tokenLocked(token)
	ti.active = true
	ti.issued = s.now()
}

// RevokeToken makes token answer 401 unauthorized on every endpoint, as
// Notion does once a connection is removed. Other tokens of the same bot
// keep working.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLocked(token).active = false
}

// BotID returns the id of the bot user behind token: the id GET
// /v1/users/me answers with.
func (s *Server) BotID(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenLocked(token).bot.id
}

// TokenHash returns the first 16 hex digits of the SHA-256 of token. The
// request log records it in place of the token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

// tokenLocked returns token's entry, creating an inactive one (with a new
// bot in the default workspace) for a token never seen, so that sharing with
// a token before adding it works.
func (s *Server) tokenLocked(token string) *tokenInfo {
	ti := s.tokens[token]
	if ti == nil {
		ti = &tokenInfo{bot: newBot(s.workspace)}
		s.tokens[token] = ti
	}
	return ti
}

func newBot(ws *workspace) *bot {
	return &bot{id: newUUID(), name: "notiontest bot", ws: ws}
}

// authenticate checks the bearer token and sets c.bot.
func (s *Server) authenticate(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti := s.tokens[c.token]
	if c.token == "" || ti == nil || !ti.active {
		return &apiError{http.StatusUnauthorized, "unauthorized", "API token is invalid.", nil}
	}
	c.bot = ti.bot
	return nil
}

// getMe answers GET /v1/users/me: the token's bot, with the name of its
// workspace.
func (s *Server) getMe(c *call, _ []string) (any, *apiError) {
	return map[string]any{
		"object":     "user",
		"id":         c.bot.id,
		"type":       "bot",
		"name":       c.bot.name,
		"avatar_url": nil,
		"bot": map[string]any{
			"owner":          map[string]any{"type": "workspace", "workspace": true},
			"workspace_name": c.bot.ws.nameJSON(),
		},
	}, nil
}
