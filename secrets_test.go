package notionauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
	"github.com/notionauth/notionauth/store/filestore"
)

// Secrets planted in every call of TestSecretsNeverLeak. None has a
// prefix a token pattern would catch: only the exact values do.
const (
	plantAccess   = "PLANTaccess7f3a9c21e5b84d06a1b2c3d4"
	plantRefresh  = "PLANTrefreshc0ffee1234567890abcdef"
	plantCode     = "PLANTcode0badf00d998877665544332211"
	plantSecret   = "PLANTclientsecret5a5a5a5a5a5a5a5a5a"
	plantClientID = "plant-client-id"
)

var (
	plantStateKey = []byte("PLANTstatekey-0123456789abcdefghij")
	plantStoreKey = []byte("PLANTstorekey-0123456789abcdefghi")[:32]
)

// hostile answers every request by echoing what it was sent, each secret
// it can find (the bearer token, the Basic credentials, the body's
// fields) raw, URL-escaped, base64 and hex, into every field of an answer
// of the shape and status it is set to.
//
// The API's paths and the token endpoints (/v1/oauth/) have a scenario
// each; the shapes are "notion", "notion-id" (Notion's own, with a real
// request id and code), "oauth", "html", "redirect", "ok-error" (a 200
// with an error body) and "ok-garbage" (a 200 that is not JSON).
type hostile struct {
	mu         sync.Mutex
	api, oauth scenario
}

type scenario struct {
	status int
	shape  string
}

func (h *hostile) set(api, oauth scenario) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.api, h.oauth = api, oauth
}

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	sc := h.api
	if strings.HasPrefix(r.URL.Path, "/v1/oauth/") {
		sc = h.oauth
	}
	h.mu.Unlock()
	status, shape := sc.status, sc.shape
	body, _ := io.ReadAll(r.Body)
	var seen []string
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		seen = append(seen, tok)
	}
	if id, secret, ok := r.BasicAuth(); ok {
		seen = append(seen, id+":"+secret, secret)
	}
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	for _, k := range []string{"code", "refresh_token", "token"} {
		if s, ok := fields[k].(string); ok {
			seen = append(seen, s)
		}
	}
	var echo []string
	for _, s := range seen {
		echo = append(echo, s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s)),
			base64.RawURLEncoding.EncodeToString([]byte(s)), hex.EncodeToString([]byte(s)))
	}
	all := strings.Join(append(echo, auth, string(body), r.URL.RequestURI()), " ")
	one := strings.Join(echo, "")
	hdr := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, all)
	first := ""
	if len(seen) > 0 {
		first = seen[0]
	}
	w.Header().Set("X-Notion-Request-Id", first)
	w.Header().Set("Cf-Ray", first)
	w.Header().Set("Location", "https://elsewhere.example/moved?echo="+url.QueryEscape(all))
	w.Header().Set("Retry-After", "1")
	w.Header().Set("X-Echo", hdr)
	jsonBody := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	notion := map[string]any{
		"object": "error", "status": status, "code": first, "message": all, "request_id": one,
		"additional_data": map[string]any{"rate_limit_reason": first, "retry_after": "0.001", "committed_resource_id": first},
	}
	switch shape {
	case "notion":
		jsonBody(notion)
	case "notion-id":
		w.Header().Set("X-Notion-Request-Id", "0c0c0c0c-1d1d-4e4e-8f8f-a0a0a0a0a0a0")
		notion["request_id"] = "0c0c0c0c-1d1d-4e4e-8f8f-a0a0a0a0a0a0"
		code := map[int]string{401: "unauthorized", 429: "rate_limited", 400: "invalid_grant"}[status]
		if code != "" {
			notion["code"] = code
		}
		jsonBody(notion)
	case "oauth":
		jsonBody(map[string]any{"error": first, "error_description": all})
	case "html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><head><title>"+all+"</title></head><body>"+all+"</body></html>")
	case "redirect":
		w.WriteHeader(http.StatusFound)
	case "ok-error":
		status = 200
		notion["code"] = "invalid_grant"
		jsonBody(notion)
	case "ok-garbage":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, all)
	}
}

// TestSecretsNeverLeak drives every failure path the Transport, the
// Config and the Manager have against a server that echoes every secret it
// is sent, in several forms, into every field of its answers, and searches
// everything the library let out (errors in every fmt verb, JSON and
// log/slog; log lines; events; the callbacks' errors; prints of every
// type; the store's file) for every planted secret as is, in base64, in
// hex and URL-escaped.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	h := &hostile{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	leaks := newLeakLog()
	leaks.secret(plantAccess, plantRefresh, plantCode, plantSecret, plantClientID+":"+plantSecret,
		string(plantStateKey), string(plantStoreKey))
	clock := notiontest.NewClock(time.Time{})
	t.Cleanup(clock.AutoAdvance(0))
	base := &rewriteTo{host: strings.TrimPrefix(srv.URL, "http://"), rt: srv.Client().Transport}

	logger := slog.New(slog.NewJSONHandler(leaks, &slog.HandlerOptions{Level: slog.LevelDebug}))
	text := slog.New(slog.NewTextHandler(leaks, &slog.HandlerOptions{Level: slog.LevelDebug}))
	observe := func(tr *notionauth.Transport) *notionauth.Transport {
		tr.Clock, tr.Logger = clock, logger
		tr.OnEvent = func(ev notionauth.Event) {
			text.Info("event", "event", ev)
			leaks.print(ev)
		}
		tr.OnAuthRevoked = func(_ context.Context, err *notionauth.Error) { leaks.err(err) }
		tr.Retry = notionauth.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}
		return tr
	}
	statuses := []int{400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 529}
	shapes := []string{"notion", "notion-id", "oauth", "html", "redirect"}
	ctx := context.Background()
	const page = "59833787-2cf9-4fdf-8782-e53db20768a5"

	// The Transport, through net/http and through notionapi.
	for _, shape := range shapes {
		for _, status := range statuses {
			h.set(scenario{status, shape}, scenario{})
			tr := observe(&notionauth.Transport{Base: base,
				Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: plantAccess})})
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				req, err := http.NewRequest(method, "https://api.notion.com/v1/pages/"+page,
					bytes.NewReader([]byte(`{"query":"x"}`)))
				require.NoError(t, err)
				req.Header.Set("Notion-Version", notionauth.DefaultNotionVersion)
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err == nil {
					resp.Body.Close()
				}
				leaks.err(err)
			}
			_, err := notionauth.NewClient(tr).Page.Get(ctx, page)
			leaks.err(err)
			leaks.print(tr)
			leaks.print(tr.Stats())
		}
	}

	// The token endpoints.
	cfg := &notionauth.Config{ClientID: plantClientID, ClientSecret: plantSecret, BaseURL: srv.URL,
		RedirectURL: "https://app.example/callback", StateKey: plantStateKey}
	for _, shape := range append(shapes, "ok-error", "ok-garbage") {
		for _, status := range []int{400, 401, 403, 429, 500, 503} {
			h.set(scenario{}, scenario{status, shape})
			_, err := cfg.Exchange(ctx, plantCode)
			leaks.err(err)
			_, err = cfg.Refresh(ctx, plantRefresh)
			leaks.err(err)
			_, err = cfg.Introspect(ctx, plantAccess)
			leaks.err(err)
			leaks.err(cfg.Revoke(ctx, plantAccess))
		}
	}
	leaks.print(cfg)
	leaks.print(*cfg)

	// A Manager whose grant meets Notion's 401, and whose refresh meets
	// the hostile token endpoint; its file is encrypted with a planted key.
	store, err := filestore.New(filepath.Join(t.TempDir(), "grants"), plantStoreKey)
	require.NoError(t, err)
	m := &notionauth.Manager{Config: cfg, Store: store, Base: base,
		OnAuthRevoked: func(_ context.Context, err *notionauth.Error) { leaks.err(err) },
		Clock:         clock, Logger: logger, Retry: notionauth.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond},
		OnEvent: func(ev notionauth.Event) {
			text.Info("event", "event", ev)
			leaks.print(ev)
		}}
	for _, shape := range append(shapes, "ok-error", "ok-garbage") {
		for _, status := range []int{400, 401, 429, 500} {
			key := "w-" + shape + "-" + strconv.Itoa(status)
			require.NoError(t, m.Connect(ctx, key, &notionauth.Token{
				AccessToken: plantAccess, RefreshToken: plantRefresh, WorkspaceID: "ws"}))
			leaks.print(m.Transport(key))
			h.set(scenario{401, "notion-id"}, scenario{status, shape})
			_, err := m.Client(key).User.Me(ctx)
			leaks.err(err)
			g, err := m.Grant(ctx, key)
			leaks.err(err)
			if g != nil {
				leaks.print(g)
				leaks.print(*g)
				leaks.print(g.Token)
			}
		}
	}
	leaks.print(m)
	leaks.print(store)
	mem := &notionauth.MemoryStore{}
	_, err = mem.Update(ctx, "k", func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Token: &notionauth.Token{AccessToken: plantAccess, RefreshToken: plantRefresh}}, nil
	})
	require.NoError(t, err)
	leaks.print(mem)
	leaks.print(notionauth.Token{AccessToken: plantAccess, RefreshToken: plantRefresh})
	raw, err := os.ReadFile(store.Path)
	require.NoError(t, err)
	leaks.add(string(raw))

	leaks.check(t)
}
