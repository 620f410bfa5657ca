package notionauth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Defaults of [Config].
const (
	// DefaultBaseURL is where Notion's API and its OAuth endpoints live.
	DefaultBaseURL = "https://api.notion.com"
	// DefaultStateTTL is how long a state from [Config.NewState] stays
	// valid: time enough for a user to read Notion's consent screen.
	DefaultStateTTL = 10 * time.Minute
	// MinStateKeySize is the shortest [Config].StateKey accepted, in bytes.
	MinStateKeySize = 32
)

// Paths of Notion's OAuth endpoints, below the base URL.
const (
	pathAuthorize  = "/v1/oauth/authorize"
	pathToken      = "/v1/oauth/token"
	pathIntrospect = "/v1/oauth/introspect"
	pathRevoke     = "/v1/oauth/revoke"
)

// Config is a Notion public connection's OAuth client: it builds the
// authorize URL, makes and checks the CSRF state, handles the callback, and
// calls the token endpoints (exchange, refresh, introspect, revoke) as
// Notion documents them: POST with a JSON body, HTTP Basic client
// credentials and a Notion-Version header.
//
// Set its fields up before use and do not change them afterwards. Its
// methods are safe for concurrent use. When UsedStates is nil, the Config
// itself remembers which states were used (from its first VerifyState
// call on): use one Config, through a pointer, for all callbacks, since a
// copy made before that remembers separately, and do not copy it (printing
// a Config value copies it) while that first call runs.
//
// A Config never prints its secrets: ClientSecret and StateKey show as
// "[redacted]" in every fmt verb, in log/slog and in JSON.
type Config struct {
	ClientID     string
	ClientSecret string // a secret: never printed
	// RedirectURL is the redirect URI registered with the connection. It is
	// sent with the authorize URL and the code exchange; "": none is sent.
	RedirectURL string

	BaseURL       string       // "": DefaultBaseURL; tests use notiontest's Server.URL
	HTTPClient    *http.Client // nil: http.DefaultClient; redirects are never followed
	NotionVersion string       // "": DefaultNotionVersion

	// StateKey is the HMAC key that signs states: at least MinStateKeySize
	// random bytes, the same on every replica, and a secret (never printed).
	// NewState and VerifyState fail without one.
	StateKey SecretKey
	// StateTTL is how long a state stays valid; 0: DefaultStateTTL.
	StateTTL time.Duration
	// UsedStates records which states were used, so that each works once.
	// nil: this Config remembers them in memory, which makes states single
	// use within one process only. Across replicas a state can then be
	// replayed on another replica until it expires, but only within the
	// session it is bound to, which an attacker does not have. Set
	// UsedStates to a store shared by all replicas to close that gap.
	UsedStates UsedStates
	// Now tells the time, for Token.Obtained and state expiry; nil:
	// time.Now.
	Now func() time.Time

	mem atomic.Value // *usedMemory, created when first needed
}

// UsedStates records used state nonces for [Config.VerifyState], typically
// in a store shared by all replicas (Redis SET NX with an expiry, a unique
// key in SQL, ...). Use marks nonce as used until the given time (after
// which the state has expired anyway and the record may be dropped) and
// reports whether this was its first use. It must be atomic: of two
// concurrent calls with one nonce, only one may report firstUse. It must
// be safe for concurrent use. An error fails the verification.
type UsedStates interface {
	Use(ctx context.Context, nonce string, until time.Time) (firstUse bool, err error)
}

func (c *Config) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

// httpClient is the client of the token endpoints: HTTPClient, or
// http.DefaultClient, with redirects not followed. A token endpoint has no
// business redirecting, and following one would send the code or refresh
// token in the body (307, 308) to wherever the Location points.
func (c *Config) httpClient() *http.Client {
	hc := http.DefaultClient
	if c.HTTPClient != nil {
		hc = c.HTTPClient
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

func (c *Config) notionVersion() string {
	if c.NotionVersion != "" {
		return c.NotionVersion
	}
	return DefaultNotionVersion
}

func (c *Config) stateTTL() time.Duration {
	if c.StateTTL > 0 {
		return c.StateTTL
	}
	return DefaultStateTTL
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// AuthCodeURL returns the URL of Notion's consent screen:
//
//	BaseURL/v1/oauth/authorize?client_id=…&owner=user&redirect_uri=…&response_type=code&state=…
//
// state should come from [Config.NewState]; redirect_uri is left out when
// RedirectURL is empty, and state when it is empty.
func (c *Config) AuthCodeURL(state string) string {
	oc := oauth2.Config{
		ClientID:    c.ClientID,
		RedirectURL: c.RedirectURL,
		Endpoint:    oauth2.Endpoint{AuthURL: c.baseURL() + pathAuthorize},
	}
	return oc.AuthCodeURL(state, oauth2.SetAuthURLParam("owner", "user"))
}

// CSRF state.

// Reasons of a [StateError].
const (
	StateMalformed = "malformed" // not a state this package made
	StateForged    = "forged"    // its signature does not match: not made with this StateKey and ClientID
	StateSession   = "session"   // made for another session, or no session was given
	StateExpired   = "expired"   // older than StateTTL
	StateReplayed  = "replayed"  // already used once
)

// ErrStateInvalid matches every *[StateError] with errors.Is.
var ErrStateInvalid = errors.New("notionauth: invalid OAuth state")

// StateError is a callback state that [Config.VerifyState] refused. Reason
// is one of the StateX constants. It matches [ErrStateInvalid].
type StateError struct {
	Reason string
}

// Error returns "notionauth: invalid OAuth state: " and the reason.
func (e *StateError) Error() string {
	return "notionauth: invalid OAuth state: " + oneLine(e.Reason, 64)
}

// Is reports whether target is ErrStateInvalid.
func (e *StateError) Is(target error) bool { return target == ErrStateInvalid }

// The layout of a state, before base64url encoding:
//
//	version(1) | expiry(8, Unix ns, big endian) | nonce(16) | session tag(16) | mac(32)
//
// The session tag is HMAC(key, "session"|client id|session), cut to 16
// bytes: it binds the state to the session without revealing it. The mac is
// HMAC(key, "state"|client id|everything before it), over the whole state.
const (
	stateVersion   = 1
	stateNonceSize = 16
	sessionTagLen  = 16
	stateSize      = 1 + 8 + stateNonceSize + sessionTagLen + sha256.Size
)

var stateEncoding = base64.RawURLEncoding.Strict()

// NewState returns a fresh state for [Config.AuthCodeURL], bound to
// session (the user's session id, which must not be empty): a random
// nonce, an expiry StateTTL from now, and an HMAC-SHA256 signature with
// StateKey over both and the session. It is URL-safe and needs no storage;
// [Config.VerifyState] checks it. It fails when StateKey is shorter than
// MinStateKeySize or session is empty.
func (c *Config) NewState(session string) (string, error) {
	if err := c.checkStateKey(); err != nil {
		return "", err
	}
	if session == "" {
		return "", configError("", "NewState needs the user's session id")
	}
	var b [stateSize]byte
	b[0] = stateVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(c.now().Add(c.stateTTL()).UnixNano()))
	nonce := b[9 : 9+stateNonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return "", &Error{Kind: Unavailable, Message: "cannot read random bytes", Err: err}
	}
	copy(b[9+stateNonceSize:], c.sessionTag(session))
	copy(b[stateSize-sha256.Size:], c.stateMAC(b[:stateSize-sha256.Size]))
	return stateEncoding.EncodeToString(b[:]), nil
}

// VerifyState checks a state that came back to the callback: made by
// [Config.NewState] with this StateKey and ClientID (compared in constant
// time), for this session, not expired, and not used before. It then
// records it as used (in UsedStates, or in memory), so a second call with
// the same state fails. It returns a *[StateError] (matching
// [ErrStateInvalid]) for a bad state, and another error when StateKey is
// unusable or UsedStates fails.
func (c *Config) VerifyState(ctx context.Context, state, session string) error {
	if err := c.checkStateKey(); err != nil {
		return err
	}
	if len(state) != stateEncoding.EncodedLen(stateSize) {
		return &StateError{Reason: StateMalformed}
	}
	b, err := stateEncoding.DecodeString(state)
	if err != nil || len(b) != stateSize || b[0] != stateVersion {
		return &StateError{Reason: StateMalformed}
	}
	signed, mac := b[:stateSize-sha256.Size], b[stateSize-sha256.Size:]
	if !hmac.Equal(mac, c.stateMAC(signed)) {
		return &StateError{Reason: StateForged}
	}
	if session == "" || !hmac.Equal(b[9+stateNonceSize:9+stateNonceSize+sessionTagLen], c.sessionTag(session)) {
		return &StateError{Reason: StateSession}
	}
	ns := binary.BigEndian.Uint64(b[1:9])
	if ns > math.MaxInt64 {
		return &StateError{Reason: StateMalformed}
	}
	expiry, now := time.Unix(0, int64(ns)).UTC(), c.now()
	if !now.Before(expiry) {
		return &StateError{Reason: StateExpired}
	}
	nonce := hex.EncodeToString(b[9 : 9+stateNonceSize])
	first, err := c.useNonce(ctx, nonce, expiry, now)
	if err != nil {
		return &Error{Kind: Unavailable, Message: "cannot record the OAuth state as used", Err: err}
	}
	if !first {
		return &StateError{Reason: StateReplayed}
	}
	return nil
}

func (c *Config) checkStateKey() error {
	if c == nil {
		return configError("", "nil Config")
	}
	if len(c.StateKey) < MinStateKeySize {
		return configError("", "Config.StateKey must hold at least "+strconv.Itoa(MinStateKeySize)+" bytes")
	}
	return nil
}

func (c *Config) sessionTag(session string) []byte {
	return c.hmac("notionauth state session", []byte(session))[:sessionTagLen]
}

func (c *Config) stateMAC(signed []byte) []byte {
	return c.hmac("notionauth state", signed)
}

// hmac is HMAC-SHA256 with StateKey over purpose, the client id and data,
// each but the last preceded by its length so that no two inputs collide.
func (c *Config) hmac(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, c.StateKey)
	var n [8]byte
	for _, s := range [...]string{purpose, c.ClientID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	m.Write(data)
	return m.Sum(nil)
}

// useNonce marks nonce used until expiry and reports whether it was new.
func (c *Config) useNonce(ctx context.Context, nonce string, expiry, now time.Time) (bool, error) {
	if c.UsedStates != nil {
		return c.UsedStates.Use(ctx, nonce, expiry)
	}
	mem, _ := c.mem.Load().(*usedMemory)
	if mem == nil {
		c.mem.CompareAndSwap(nil, &usedMemory{})
		mem = c.mem.Load().(*usedMemory)
	}
	return mem.use(nonce, expiry, now), nil
}

// maxUsedStates bounds how many used states a Config remembers in memory.
// When it is full the oldest is forgotten first: its state can then be
// replayed until it expires, but only within its own session.
const maxUsedStates = 1 << 16

// usedMemory remembers used state nonces until their states expire.
type usedMemory struct {
	mu    sync.Mutex           // guards m and order
	m     map[string]time.Time // nonce -> expiry of its state
	order []usedNonce          // in order of use, the oldest first
}

type usedNonce struct {
	nonce  string
	expiry time.Time
}

func (u *usedMemory) use(nonce string, expiry, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for len(u.order) > 0 && (!now.Before(u.order[0].expiry) || len(u.order) >= maxUsedStates) {
		delete(u.m, u.order[0].nonce)
		u.order = u.order[1:]
	}
	if _, used := u.m[nonce]; used {
		return false
	}
	if u.m == nil {
		u.m = make(map[string]time.Time)
	}
	u.m[nonce] = expiry
	u.order = append(u.order, usedNonce{nonce, expiry})
	return true
}

// The callback.

// ErrUserCancelled matches the *[CallbackError] of a user who declined
// Notion's consent screen (error=access_denied).
var ErrUserCancelled = errors.New("notionauth: the user cancelled the authorization")

// CallbackError is an error that Notion's authorize page sent to the
// redirect URI (error=…&error_description=…), or a callback that carried
// no code. Code access_denied (the user pressed Cancel) matches
// [ErrUserCancelled].
type CallbackError struct {
	Code        string // the callback's error parameter, such as "access_denied"
	Description string // its error_description, if any
}

// Error returns a one-line description, such as "notionauth: authorization
// failed: access_denied".
func (e *CallbackError) Error() string {
	s := "notionauth: authorization failed: " + oneLine(e.Code, 64)
	if e.Description != "" {
		s += ": " + oneLine(e.Description, maxMessage)
	}
	return s
}

// Is reports whether target is ErrUserCancelled and e is access_denied.
func (e *CallbackError) Is(target error) bool {
	return target == ErrUserCancelled && e.Code == "access_denied"
}

// HandleCallback handles the request that Notion's authorize page sent to
// the redirect URI, for the user with the given session id. It first
// verifies the state with [Config.VerifyState], whatever else the request
// says (a *[StateError] if it fails); then a callback with an error
// parameter fails with a *[CallbackError] (matching [ErrUserCancelled] for
// access_denied); then the code is exchanged with [Config.Exchange].
func (c *Config) HandleCallback(ctx context.Context, r *http.Request, session string) (*Token, error) {
	code, err := c.callbackCode(ctx, r, session)
	if err != nil {
		return nil, err
	}
	return c.Exchange(ctx, code)
}

// callbackCode is HandleCallback up to the exchange: the code, once the
// state is verified and the callback carries no error.
func (c *Config) callbackCode(ctx context.Context, r *http.Request, session string) (string, error) {
	if r == nil || r.URL == nil {
		return "", configError("", "HandleCallback needs the callback request")
	}
	q := r.URL.Query()
	if err := c.VerifyState(ctx, q.Get("state"), session); err != nil {
		return "", err
	}
	if code := q.Get("error"); code != "" {
		return "", &CallbackError{Code: code, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if code == "" {
		return "", &CallbackError{Code: CodeInvalidRequest, Description: "the callback carries neither a code nor an error"}
	}
	return code, nil
}

// The token endpoints.

// tokenRequest is the JSON body of POST /v1/oauth/token.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	Code         string `json:"code,omitempty"`
	RedirectURI  string `json:"redirect_uri,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Exchange trades an authorization code for a grant (POST /v1/oauth/token,
// grant_type authorization_code, with RedirectURL as redirect_uri when
// set). Token.Obtained is set from Now.
//
// Errors are *[Error] values. Notion's answers are classified like every
// other (its OAuth-style and Notion-style error bodies alike): invalid_grant
// (the code is unknown, expired, already used, or the redirect URI does not
// match) is [AuthRevoked]; invalid_client (wrong client id or secret) and
// the other 4xx codes are [InvalidRequest]. A 2xx answer that carries an
// error body is classified the same way by its code. A 2xx answer that is
// not JSON, or has no access_token, is [Unavailable]: Notion, or something
// in between, answered something unusable, and asking again may help. No
// error ever holds the client secret, the code or a token.
func (c *Config) Exchange(ctx context.Context, code string) (*Token, error) {
	if code == "" {
		return nil, configError(pathToken, "Exchange needs an authorization code")
	}
	req := tokenRequest{GrantType: "authorization_code", Code: code, RedirectURI: c.RedirectURL}
	return c.token(ctx, req, code)
}

// Refresh trades a refresh token for a new grant (POST /v1/oauth/token,
// grant_type refresh_token). Notion rotates: the answer holds a new access
// token AND a new refresh token, and the old refresh token must be
// considered spent. Store the new pair (atomically) before using it.
//
// When Notion answers "refresh_token": null, the returned Token's
// RefreshToken is empty: only then may the caller keep using the old
// refresh token. Errors are as for [Config.Exchange]; a refresh token that
// was revoked, rotated or already used gives invalid_grant, [AuthRevoked].
func (c *Config) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, configError(pathToken, "Refresh needs a refresh token")
	}
	return c.token(ctx, tokenRequest{GrantType: "refresh_token", RefreshToken: refreshToken}, refreshToken)
}

func (c *Config) token(ctx context.Context, body tokenRequest, secret string) (*Token, error) {
	a, err := c.post(ctx, pathToken, body, secret)
	if err != nil {
		return nil, err
	}
	access := jsonString(a.fields["access_token"])
	if access == "" {
		return nil, a.fail("token response has no access_token")
	}
	tok := &Token{
		AccessToken:          access,
		RefreshToken:         jsonString(a.fields["refresh_token"]),
		TokenType:            jsonString(a.fields["token_type"]),
		BotID:                jsonString(a.fields["bot_id"]),
		WorkspaceID:          jsonString(a.fields["workspace_id"]),
		WorkspaceName:        jsonString(a.fields["workspace_name"]),
		WorkspaceIcon:        jsonString(a.fields["workspace_icon"]),
		Owner:                parseOwner(a.fields["owner"]),
		DuplicatedTemplateID: jsonString(a.fields["duplicated_template_id"]),
		Obtained:             c.now(),
	}
	return tok, nil
}

// parseOwner reads Notion's owner object leniently: what does not parse
// stays empty.
func parseOwner(raw json.RawMessage) Owner {
	var o struct {
		Type string `json:"type"`
		User struct {
			ID        json.RawMessage `json:"id"`
			Name      json.RawMessage `json:"name"`
			AvatarURL json.RawMessage `json:"avatar_url"`
			Person    struct {
				Email json.RawMessage `json:"email"`
			} `json:"person"`
		} `json:"user"`
	}
	_ = json.Unmarshal(raw, &o) // best effort: a mistyped field stops nothing else
	return Owner{
		Type:      o.Type,
		UserID:    jsonString(o.User.ID),
		UserName:  jsonString(o.User.Name),
		UserEmail: jsonString(o.User.Person.Email),
		AvatarURL: jsonString(o.User.AvatarURL),
	}
}

// Introspection is what [Config.Introspect] learnt about a token.
type Introspection struct {
	Active    bool      // the token works
	Scope     string    // the capabilities Notion reports, space-separated; "" when inactive
	IssuedAt  time.Time // Notion's iat; zero when it gave none
	RequestID string
}

// Introspect asks Notion whether an access or refresh token is active
// (POST /v1/oauth/introspect). An unknown, revoked or rotated token is
// not an error: Active is false. Notion does not document the unit of
// iat: a value above 10^12 is read as milliseconds, any other as seconds.
// Errors are as for [Config.Exchange]; a 2xx answer without a boolean
// "active" is [Unavailable].
func (c *Config) Introspect(ctx context.Context, token string) (*Introspection, error) {
	if token == "" {
		return nil, configError(pathIntrospect, "Introspect needs a token")
	}
	a, err := c.post(ctx, pathIntrospect, map[string]string{"token": token}, token)
	if err != nil {
		return nil, err
	}
	var active bool
	if json.Unmarshal(a.fields["active"], &active) != nil {
		return nil, a.fail("introspection answer has no active field")
	}
	in := &Introspection{Active: active, Scope: jsonString(a.fields["scope"]), RequestID: a.requestID}
	if iat, err := strconv.ParseFloat(jsonScalar(a.fields["iat"]), 64); err == nil && iat > 0 && iat < 1e16 {
		if iat >= 1e12 {
			in.IssuedAt = time.UnixMilli(int64(iat)).UTC()
		} else {
			in.IssuedAt = time.Unix(int64(iat), 0).UTC()
		}
	}
	return in, nil
}

// Revoke revokes an access or refresh token (POST /v1/oauth/revoke). API
// calls with a revoked access token then fail with 401, and a revoked
// refresh token with invalid_grant. Errors are as for [Config.Exchange].
func (c *Config) Revoke(ctx context.Context, token string) error {
	if token == "" {
		return configError(pathRevoke, "Revoke needs a token")
	}
	_, err := c.post(ctx, pathRevoke, map[string]string{"token": token}, token)
	return err
}

// answer is a 2xx answer from a token endpoint, read and parsed.
type answer struct {
	status    int
	path      string
	requestID string
	fields    map[string]json.RawMessage // the body's top-level fields
}

// fail is an Unavailable error about a's content.
func (a *answer) fail(msg string) *Error {
	return &Error{Kind: Unavailable, StatusCode: a.status, Method: http.MethodPost, Path: a.path,
		RequestID: a.requestID, Message: msg, Attempts: 1}
}

// post sends body as JSON to path with the client's credentials and
// returns the parsed 2xx answer, or an *Error. secret is what the call sends
// besides the client secret (a code or a token): no error may quote either.
func (c *Config) post(ctx context.Context, path string, body any, secret string) (*answer, error) {
	if c == nil {
		return nil, configError(path, "nil Config")
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, configError(path, "Config.ClientID and Config.ClientSecret are required")
	}
	a, e := c.send(ctx, path, body)
	if e != nil {
		// The Basic credentials as sent ("id:secret", base64 in the
		// header) give the secret away as surely as the secret itself.
		return nil, newSecrets(c.ClientSecret, c.ClientID+":"+c.ClientSecret, secret).scrubError(e)
	}
	return a, nil
}

// send does the work of post, without the scrubbing.
func (c *Config) send(ctx context.Context, path string, body any) (*answer, *Error) {
	data, err := json.Marshal(body)
	if err != nil { // only strings
		return nil, configError(path, "cannot encode the request body")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL()+path, bytes.NewReader(data))
	if err != nil {
		// The error quotes the URL, which is harmless, but it may also
		// be a nil context: say which without quoting anything.
		if ctx == nil {
			return nil, configError(path, "nil context")
		}
		return nil, configError(path, "Config.BaseURL is not a valid URL")
	}
	if msg := checkURL(req.URL); msg != "" {
		return nil, configError(path, "Config.BaseURL: "+msg+", such as "+DefaultBaseURL)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Notion-Version", c.notionVersion())
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	path = req.URL.Path // with BaseURL's own path prefix, if any

	resp, err := c.httpClient().Do(req)
	if err != nil {
		var e *Error
		if errors.As(err, &e) { // a notionauth Transport in HTTPClient classified it
			out := *e
			return nil, &out
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, &Error{Kind: Unavailable, Method: http.MethodPost, Path: path,
			Message: "no response", Attempts: 1, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		body, rerr := readBounded(resp.Body)
		e := classify(resp.StatusCode, resp.Header, body, http.MethodPost, path, "", c.now())
		e.Attempts = 1
		if rerr != nil {
			e.Err = rerr
		}
		return nil, e
	}
	reqID := requestID(resp.Header.Get(HeaderRequestID))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &Error{Kind: Unavailable, StatusCode: resp.StatusCode, Method: http.MethodPost, Path: path,
			RequestID: reqID, Message: "unexpected status (a redirect?): check Config.BaseURL", Attempts: 1}
	}
	raw, err := readBounded(resp.Body)
	a := &answer{status: resp.StatusCode, path: path, requestID: reqID}
	switch {
	case err != nil:
		e := a.fail("cannot read the answer")
		e.Err = err
		return nil, e
	case len(raw) > maxErrorBody:
		return nil, a.fail("answer larger than 1 MiB")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		a.fields = map[string]json.RawMessage{}
		return a, nil
	}
	if json.Unmarshal(raw, &a.fields) != nil || a.fields == nil {
		e := a.fail(edgeMessage(resp.Header, raw))
		e.Reason = ReasonEdge
		return nil, e
	}
	if id := requestID(jsonString(a.fields["request_id"])); id != "" {
		a.requestID = id
	}
	if b, ok := parseErrorBody(raw); ok {
		// An error in a 2xx answer: classify it by its code, as the
		// same body with the code's usual status would be.
		status := statusOfCode(b.code)
		if status < 400 {
			status = http.StatusBadRequest
		}
		e := classify(status, resp.Header, raw, http.MethodPost, path, "", c.now())
		e.StatusCode, e.Attempts = resp.StatusCode, 1
		e.Message = joinMessage(strconv.Itoa(resp.StatusCode)+" answer with an error body", e.Message)
		return nil, e
	}
	return a, nil
}

// configError is the error of a call that cannot be made as configured.
func configError(path, msg string) *Error {
	e := &Error{Kind: InvalidRequest, Message: msg}
	if path != "" {
		e.Method, e.Path = http.MethodPost, path
	}
	return e
}

// Redaction.

// String describes c on one line, ClientSecret and StateKey redacted.
func (c Config) String() string {
	return fmt.Sprintf("notionauth.Config{ClientID:%s, ClientSecret:%s, RedirectURL:%s, BaseURL:%s, "+
		"NotionVersion:%s, StateKey:%s, StateTTL:%v, HTTPClient:%s, UsedStates:%s, Now:%s}",
		oneLine(c.ClientID, maxMessage), redact(c.ClientSecret), oneLine(c.RedirectURL, maxMessage),
		oneLine(c.BaseURL, maxMessage), oneLine(c.NotionVersion, 64), redact(string(c.StateKey)), c.StateTTL,
		setOrNil(c.HTTPClient != nil), typeOrNil(c.UsedStates), setOrNil(c.Now != nil))
}

// GoString is c in Go syntax, as %#v prints it, ClientSecret and StateKey
// redacted.
func (c Config) GoString() string {
	return fmt.Sprintf("notionauth.Config{ClientID:%q, ClientSecret:%q, RedirectURL:%q, BaseURL:%q, "+
		"NotionVersion:%q, StateKey:%q, StateTTL:%d, HTTPClient:(*http.Client)(%p), UsedStates:%s, Now:%s}",
		c.ClientID, redact(c.ClientSecret), c.RedirectURL, c.BaseURL, c.NotionVersion,
		redact(string(c.StateKey)), c.StateTTL, c.HTTPClient, typeOrNil(c.UsedStates), setOrNil(c.Now != nil))
}

// Format makes every fmt verb safe, as [Token.Format] does.
func (c Config) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, "notionauth.Config", c.String, c.GoString)
}

// LogValue makes log/slog print c as a group, secrets redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redact(c.ClientSecret)),
		slog.String("redirect_url", c.RedirectURL),
		slog.String("base_url", c.BaseURL),
		slog.String("notion_version", c.NotionVersion),
		slog.String("state_key", redact(string(c.StateKey))),
		slog.Duration("state_ttl", c.StateTTL),
	)
}

// MarshalJSON encodes c's settings with its secrets redacted, so that a
// Config in a JSON log or debug dump gives nothing away. HTTPClient,
// UsedStates and Now are left out.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID      string        `json:"client_id"`
		ClientSecret  string        `json:"client_secret"`
		RedirectURL   string        `json:"redirect_url"`
		BaseURL       string        `json:"base_url"`
		NotionVersion string        `json:"notion_version"`
		StateKey      string        `json:"state_key"`
		StateTTL      time.Duration `json:"state_ttl"`
	}{c.ClientID, redact(c.ClientSecret), c.RedirectURL, c.BaseURL, c.NotionVersion,
		redact(string(c.StateKey)), c.StateTTL})
}

func setOrNil(set bool) string {
	if set {
		return "set"
	}
	return "<nil>"
}

func typeOrNil(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", v)
}
