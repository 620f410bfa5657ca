package notiontest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Header names the fake reads or writes.
const (
	headerNotionVersion = "Notion-Version"
	headerRequestID     = "X-Notion-Request-Id"
	headerCFRay         = "Cf-Ray"
	headerRetryAfter    = "Retry-After"
	headerContentType   = "Content-Type"
	contentTypeJSON     = "application/json; charset=utf-8"
)

// maxBodySize bounds how much of a request body the fake reads. Notion itself
// refuses bodies over 500 KB.
const maxBodySize = 4 << 20

// Server is a stateful fake of api.notion.com, listening on loopback.
// Create it with [NewServer] or [New]. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of the fake, such as http://127.0.0.1:PORT, with
	// no trailing slash.
	URL string

	ts        *httptest.Server
	transport *transport
	conns     atomic.Int64
	clock     atomic.Pointer[Clock] // nil: the system clock; see SetClock
	done      chan struct{}         // closed by Close, ends pending delays
	closeOnce sync.Once

	// Fixed at creation.
	workspace *workspace // the default workspace, also in workspaces
	ownerID   string     // the person who "created" objects added with Put

	mu           sync.Mutex            // guards the fields below
	workspaces   map[string]*workspace // id -> workspace
	tokens       map[string]*tokenInfo
	objects      map[string]*object
	shares       map[string]map[string]bool // object id -> bot id -> shared
	seq          int64                      // creation order of objects
	faults       []*fault
	rateLimit    RateLimit
	windows      map[string]*window // token -> its rate-limit window
	spaceWindows map[string]*window // workspace id -> its rate-limit window
	log          []*Request
	clients      map[string]*oauthClient
	codes        map[string]*authCode
	grants       map[string]*grant // current refresh token -> grant
	spent        map[string]*grant // rotated refresh token -> its grant
	notionShape  bool              // OAuth errors in Notion's shape
	denyAuth     bool              // the authorize page answers access_denied
	killFamily   bool              // reusing a rotated refresh token kills its grant
	dropRefresh  bool              // the next rotation's answer is dropped
	refreshes    int               // refresh_token grants handled
}

// NewServer starts a fake Notion API server on loopback. Call
// [Server.Close] when done, or use [New] in tests.
func NewServer() *Server {
	ws := &workspace{id: newUUID(), name: defaultWorkspaceName}
	s := &Server{
		done:         make(chan struct{}),
		workspace:    ws,
		ownerID:      newUUID(),
		workspaces:   map[string]*workspace{ws.id: ws},
		tokens:       map[string]*tokenInfo{},
		objects:      map[string]*object{},
		shares:       map[string]map[string]bool{},
		windows:      map[string]*window{},
		spaceWindows: map[string]*window{},
		clients:      map[string]*oauthClient{},
		codes:        map[string]*authCode{},
		grants:       map[string]*grant{},
		spent:        map[string]*grant{},
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.ts.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	// Resets and cancelled requests are part of the script: keep quiet.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.Start()
	s.URL = s.ts.URL
	base, _ := url.Parse(s.URL) // httptest's own URL always parses
	s.transport = &transport{
		srv:  s,
		base: base,
		rt: &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	return s
}

// New is [NewServer] for tests: the server is closed when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down. Requests waiting out a [Fault] Delay end at
// once, with their connection closed. Close is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
		s.transport.rt.CloseIdleConnections()
	})
}

// Client returns a new http.Client whose Transport is [Server.Transport].
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: s.Transport()}
}

// Transport returns an http.RoundTripper that sends every request to the
// fake, whatever its scheme and host (normally https://api.notion.com),
// keeping path and query. It does not modify the caller's request. All
// transports of one Server share one connection pool, closed by
// [Server.Close].
func (s *Server) Transport() http.RoundTripper {
	return s.transport
}

// Connections reports how many TCP connections the server has accepted.
func (s *Server) Connections() int {
	return int(s.conns.Load())
}

// call is one request being answered.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	requestID string
	token     string // bearer token, "" when none
	bot       *bot   // the token's bot, set once authenticated
	body      []byte
	status    int    // status written, 0 while none
	drop      bool   // reset the connection instead of sending the answer
	clock     *Clock // the server's clock when the request arrived; nil: the system's
	held      int64  // what the request counts for on clock, while it works
}

// handle runs one request through faults, version and token checks, the
// rate limit and the endpoint, and logs it.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	clk := s.clock.Load()
	if clk != nil {
		// A request being answered keeps the clock from moving by itself
		// (see Clock.AutoAdvance).
		clk.busy(1)
		defer clk.busy(-1)
	}
	arrived := s.now()
	c := &call{w: w, r: r, requestID: newUUID(), token: bearerToken(r), clock: clk, held: 1}
	if r.Header.Get(headerInFlight) != "" {
		r.Header.Del(headerInFlight)
		c.held++ // the transport's count too
	}
	c.body, _ = io.ReadAll(io.LimitReader(r.Body, maxBodySize))
	rec := s.record(r, c.token, c.body, arrived)
	defer func() { s.finish(rec, c.status) }()

	if !s.applyFaults(c) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/oauth/") {
		s.serveOAuth(c)
		return
	}
	if r.Header.Get(headerNotionVersion) == "" {
		c.fail(&apiError{http.StatusBadRequest, "missing_version",
			"Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.", nil}, nil)
		return
	}
	if e := s.authenticate(c); e != nil {
		c.fail(e, nil)
		return
	}
	if e, h := s.admit(c); e != nil {
		c.fail(e, h)
		return
	}
	s.route(c)
}

// apiError is an error answer in Notion's shape.
type apiError struct {
	status        int
	code, message string
	data          map[string]any // additional_data
}

func validationError(message string) *apiError {
	return &apiError{http.StatusBadRequest, "validation_error", message, nil}
}

func invalidRequestURL() *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request_url", "Invalid request URL.", nil}
}

// send writes a JSON answer with the headers every Notion answer carries,
// then the extra headers in header.
func (c *call) send(status int, v any, header http.Header) {
	h := c.w.Header()
	h.Set(headerContentType, contentTypeJSON)
	h.Set(headerRequestID, c.requestID)
	h.Set(headerCFRay, newRay())
	copyHeader(h, header)
	b, err := json.Marshal(v)
	if err != nil { // only maps of strings, numbers and bools are sent
		panic("notiontest: " + err.Error())
	}
	c.status = status
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

// fail writes e as {"object":"error",...}.
func (c *call) fail(e *apiError, header http.Header) {
	body := map[string]any{
		"object":     "error",
		"status":     e.status,
		"code":       e.code,
		"message":    e.message,
		"request_id": c.requestID,
	}
	if len(e.data) > 0 {
		body["additional_data"] = e.data
	}
	c.send(e.status, body, header)
}

// reset closes the connection without answering. With SO_LINGER 0 the
// client sees a TCP reset rather than a clean close.
func (c *call) reset() {
	hj, ok := c.w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// idle marks the request as waiting on the clock (true) or working again
// (false), for Clock.AutoAdvance.
func (c *call) idle(waiting bool) {
	switch {
	case c.clock == nil:
	case waiting:
		c.clock.busy(-c.held)
	default:
		c.clock.busy(c.held)
	}
}

// copyHeader replaces the values in dst of each key in src.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst.Del(k)
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// decodeBody decodes the request body into v. An empty body counts as {}.
func (c *call) decodeBody(v any) *apiError {
	body := c.body
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		return &apiError{http.StatusBadRequest, "invalid_json", "Error parsing JSON body.", nil}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return validationError("body failed validation: " + err.Error())
	}
	return nil
}

func bearerToken(r *http.Request) string {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, dashed.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return dashed(hex.EncodeToString(b))
}

// dashed formats 32 hex digits as 8-4-4-4-12.
func dashed(h string) string {
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// normalizeID returns id, dashed or not, as a dashed lowercase UUID, and
// false when it is not 32 hex digits.
func normalizeID(id string) (string, bool) {
	h := strings.ToLower(strings.ReplaceAll(id, "-", ""))
	if len(h) != 32 {
		return "", false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", false
	}
	return dashed(h), true
}

// newRay returns a value shaped like Cloudflare's cf-ray header.
func newRay() string {
	return randomHex(8) + "-SJC"
}
