package notionauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OAuth fuzz targets: the token endpoints' answers (FuzzTokenResponse),
// the CSRF state (FuzzVerifyState) and the callback (FuzzHandleCallback).
// Nothing goes over the network: the Configs' http.Client has a stub
// Transport.

// fuzzNow is the time every Config of these targets reads.
var fuzzNow = time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC)

const (
	fuzzClientID = "fuzz-client-id"
	fuzzRedirect = "https://app.example/notion/callback"
)

// fuzzStateKey is the StateKey of the targets' Configs: MinStateKeySize bytes.
var fuzzStateKey = []byte("fuzz-state-key-0123456789abcdef!")

// fuzzEncodedForms makes the targets fail on a planted secret found in an
// error in any form (URL-escaped, JSON-escaped, base64 at any alignment),
// not only raw. The library scrubs them all.
const fuzzEncodedForms = true

// fuzzPlanted are the secrets a Config of the targets sends. Each is
// distinctive, so that finding one in an error can only mean it leaked.
type fuzzPlanted struct {
	clientSecret string
	code         string // Exchange's
	refresh      string // Refresh's
	token        string // Introspect's and Revoke's
}

var fuzzPlantedSets = [...]fuzzPlanted{
	// Shaped like Notion's. redactTokens alone hides the prefixed ones in
	// Error(), so these find leaks into the fields it does not cover.
	{"secret_FUZZCLIENT_88aa77bb", "code_FUZZ_7f3a9c21", "nrt_FUZZREFRESH_1234abcd", "ntn_FUZZTOKEN_5e6f7a8b"},
	// No Notion prefix, and characters that URL, JSON and HTML escaping
	// change: only scrub stands between these and an error.
	{"cs FUZZ/client+88aa=77bb", "c0de&FUZZ<7f3a>9c21", "rt:FUZZ?refresh#1234abcd", "tk%FUZZ;token@5e6f7a8b"},
}

// basic is the Basic credentials a Config with p's client secret sends,
// as base64 in its Authorization header.
func (p fuzzPlanted) basic() string {
	return base64.StdEncoding.EncodeToString([]byte(fuzzClientID + ":" + p.clientSecret))
}

func fuzzConfig(p fuzzPlanted, rt http.RoundTripper) *Config {
	return &Config{
		ClientID:     fuzzClientID,
		ClientSecret: p.clientSecret,
		RedirectURL:  fuzzRedirect,
		HTTPClient:   &http.Client{Transport: rt},
		StateKey:     fuzzStateKey,
		Now:          func() time.Time { return fuzzNow },
	}
}

// fuzzEcho fills in the placeholders with which a body or header plays a
// hostile proxy that echoes what it was sent:
//
//	{{req}} {{req.json}} {{req.b64}}    the request body: raw, escaped for a JSON string, base64
//	{{auth}} {{auth.url}}               the Authorization header: raw, query-escaped
//	{{secret}} {{secret.json}} {{secret.url}} {{secret.b64}}  the call's code or token
//	{{client}}                          the client secret
func fuzzEcho(s string, body []byte, auth, secret, client string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return strings.NewReplacer(
		"{{req}}", string(body),
		"{{req.json}}", jsonInner(string(body)),
		"{{req.b64}}", base64.StdEncoding.EncodeToString(body),
		"{{auth}}", auth,
		"{{auth.url}}", url.QueryEscape(auth),
		"{{secret}}", secret,
		"{{secret.json}}", jsonInner(secret),
		"{{secret.url}}", url.QueryEscape(secret),
		"{{secret.b64}}", base64.StdEncoding.EncodeToString([]byte(secret)),
		"{{client}}", client,
	).Replace(s)
}

// jsonInner is s escaped as encoding/json writes it in a string, without
// the quotes.
func jsonInner(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// fuzzEndpoint is a stub token endpoint: every request gets the same
// answer, its placeholders filled in from that request (see fuzzEcho).
type fuzzEndpoint struct {
	status         int
	header         map[string]string
	body           string
	secret, client string

	calls     int
	first     *http.Request // the first request, and its body
	firstBody []byte
	served    []byte // the body of the last answer
}

func (s *fuzzEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	s.calls++
	if s.calls == 1 {
		s.first, s.firstBody = r, body
	}
	auth := r.Header.Get("Authorization")
	h := http.Header{}
	for k, v := range s.header {
		if v != "" {
			h.Set(k, fuzzEcho(v, body, auth, s.secret, s.client))
		}
	}
	s.served = []byte(fuzzEcho(s.body, body, auth, s.secret, s.client))
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", s.status, http.StatusText(s.status)),
		StatusCode:    s.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(s.served)),
		ContentLength: int64(len(s.served)),
		Request:       r,
	}, nil
}

// secretForm is one way a secret can show in a text.
type secretForm struct{ name, text string }

// secretForms returns s raw, then in each encoding a proxy might echo it
// in that differs from raw: query- and path-escaped, JSON-escaped (as
// encoding/json writes <, > and &), and base64 (standard and URL
// alphabets) at each of the three alignments, reduced to the characters
// that depend on s alone.
func secretForms(s string) []secretForm {
	forms := []secretForm{{"raw", s}}
	add := func(name, text string) {
		if len(text) < 12 {
			return
		}
		for _, f := range forms {
			if f.text == text {
				return
			}
		}
		forms = append(forms, secretForm{name, text})
	}
	add("query-escaped", url.QueryEscape(s))
	add("path-escaped", url.PathEscape(s))
	add("json-escaped", jsonInner(s))
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
		for k := range 3 {
			full := enc.e.EncodeToString(append(make([]byte, k), s...))
			from, to := (8*k+5)/6, (8*k+8*len(s))/6
			add(fmt.Sprintf("%s@%d", enc.name, k), full[from:to])
		}
	}
	return forms
}

var secretFormsCache sync.Map // string -> []secretForm

func cachedSecretForms(s string) []secretForm {
	if v, ok := secretFormsCache.Load(s); ok {
		return v.([]secretForm)
	}
	forms := secretForms(s)
	secretFormsCache.Store(s, forms)
	return forms
}

// checkNoSecrets fails if any of texts shows one of secrets raw, or, with
// fuzzEncodedForms, in any form.
func checkNoSecrets(t *testing.T, what string, texts map[string]string, secrets ...string) {
	t.Helper()
	for verb, text := range texts {
		for _, s := range secrets {
			for _, f := range cachedSecretForms(s) {
				if (f.name == "raw" || fuzzEncodedForms) && strings.Contains(text, f.text) {
					t.Errorf("%s: %s shows the secret %q %s (%q): %s", what, verb, s, f.name, f.text, text)
				}
			}
		}
	}
}

// printed is err as each fmt verb prints it.
func printed(err error) map[string]string {
	return map[string]string{
		"Error()": err.Error(),
		"%v":      fmt.Sprintf("%v", err),
		"%+v":     fmt.Sprintf("%+v", err),
		"%#v":     fmt.Sprintf("%#v", err),
		"%q":      fmt.Sprintf("%q", err),
		"%s":      fmt.Sprintf("%s", err),
	}
}

// checkPrinted checks what must hold of any error these targets see:
// prefixed, one line in every verb, no token-like string in Error(), and
// none of the secrets.
func checkPrinted(t *testing.T, what string, err error, secrets ...string) {
	t.Helper()
	texts := printed(err)
	if !strings.HasPrefix(texts["Error()"], "notionauth: ") {
		t.Fatalf("%s: Error() = %q, want the notionauth: prefix", what, texts["Error()"])
	}
	for verb, text := range texts {
		if !oneLineOK(text) {
			t.Fatalf("%s: %s = %q is not one line", what, verb, text)
		}
	}
	if m := tokenLikeRE.FindString(texts["Error()"]); m != "" {
		t.Fatalf("%s: Error() = %q shows token-like %q", what, texts["Error()"], m)
	}
	checkNoSecrets(t, what, texts, secrets...)
}

// checkOAuthError checks an error of a token endpoint call. scrubbed are
// the secrets the call sent (the client secret, the Basic credentials, the
// code or token), which the library removes from its errors; secrets are
// those the error must not show.
func checkOAuthError(t *testing.T, what string, err error, path string, scrubbed, secrets []string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %T (%v), want *Error", what, err, err)
	}
	if e.Kind == Unclassified || e.Kind == Canceled {
		t.Fatalf("%s: Kind %v: %#v", what, e.Kind, e)
	}
	if !errors.Is(err, sentinels[e.Kind]) {
		t.Fatalf("%s: errors.Is(err, %v) is false", what, sentinels[e.Kind])
	}
	if e.Method != http.MethodPost || e.Path != path {
		t.Fatalf("%s: Method, Path = %q, %q; want POST %q", what, e.Method, e.Path, path)
	}
	if e.Attempts != 1 {
		t.Fatalf("%s: Attempts = %d, want 1", what, e.Attempts)
	}
	if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
		t.Fatalf("%s: RetryAfter = %v out of range", what, e.RetryAfter)
	}
	// On the token endpoints only invalid_grant says the grant is gone,
	// and nothing that did not come from Notion may say so. (A code that
	// is part of "invalid_grant", such as "invalid", is scrubbed out of it
	// too; one shorter than minSecret, such as "a", is not.)
	invalidGrant := CodeInvalidGrant
	for _, s := range scrubbed {
		if len(s) >= minSecret {
			invalidGrant = strings.ReplaceAll(invalidGrant, s, redacted)
		}
	}
	if e.Kind == AuthRevoked && (e.Code != invalidGrant || e.Reason == ReasonEdge) {
		t.Fatalf("%s: AuthRevoked for code %q, reason %q: %#v", what, e.Code, e.Reason, e)
	}
	if e.Reason == ReasonEdge && e.Kind == PermissionLost {
		t.Fatalf("%s: an edge answer became %v: %#v", what, e.Kind, e)
	}
	checkPrinted(t, what, e, secrets...)
	return e
}

// The choices of FuzzTokenResponse's answer.
var (
	fuzzStatuses = [...]int{200, 201, 204, 302, 400, 401, 403, 429, 500, 503}
	// Content-Type and Cf-Ray.
	fuzzContentTypes = [...][2]string{
		{"", ""},
		{"application/json", ""},
		{"application/json; charset=utf-8", fxRay},
		{"text/html; charset=UTF-8", fxRay},
		{"text/html", ""},
	}
	fuzzRetryAfters = [...]string{"", "0", "12", "-1", "1e999", "soon", "86401",
		fuzzNow.Add(30 * time.Second).Format(http.TimeFormat)}
	fuzzRequestIDs = [...]string{"", fxHdrReqID, "r\r\nid", "{{secret}}", "{{auth}}", "{{client}}"}
	fuzzLocations  = [...]string{"", DefaultBaseURL + pathToken, "/v1/oauth/elsewhere",
		"https://proxy.example/login?next={{secret.url}}", "https://proxy.example/{{secret}}",
		"https://proxy.example/cb?auth={{auth.url}}", "/cb?c={{client}}"}
)

func pick[T any](list []T, i uint8) T { return list[int(i)%len(list)] }

// index returns the position of v in list, for seeds.
func index[T comparable](list []T, v T) uint8 {
	for i, x := range list {
		if x == v {
			return uint8(i)
		}
	}
	panic(fmt.Sprint("no ", v, " in the list"))
}

// Answers of Notion's token endpoints, as documented.
const (
	fuzzTokenOK = `{"access_token":"ntn_FUZZACCESS_00aa11bb","token_type":"bearer",` +
		`"refresh_token":"nrt_FUZZNEWREFRESH_22cc33dd","bot_id":"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",` +
		`"workspace_id":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","workspace_name":"Acme","workspace_icon":null,` +
		`"owner":{"type":"user","user":{"object":"user","id":"5c4b3a29-1807-4f6e-9d5c-4b3a29180706","name":"Ada",` +
		`"avatar_url":null,"type":"person","person":{"email":"ada@example.com"}}},"duplicated_template_id":null,` +
		`"request_id":"` + fxOAuthReqID + `"}`
	fuzzTokenNullRefresh = `{"access_token":"ntn_FUZZACCESS_00aa11bb","token_type":"bearer","refresh_token":null,` +
		`"bot_id":"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a","workspace_id":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",` +
		`"workspace_name":null,"workspace_icon":"https://example.com/i.png","owner":{"type":"workspace","workspace":true},` +
		`"duplicated_template_id":"1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}`
	fuzzIntrospectActive   = `{"active":true,"scope":"read_content update_content","iat":1727554061,"request_id":"` + fxOAuthReqID + `"}`
	fuzzIntrospectInactive = `{"active":false,"request_id":"` + fxOAuthReqID + `"}`
	fuzzRevokeOK           = `{"request_id":"` + fxOAuthReqID + `"}`
)

// fuzzEchoBodies are bodies of a hostile proxy or a careless server that
// echo what they were sent, in every field an error keeps.
var fuzzEchoBodies = []string{
	`{"error":"invalid_grant","error_description":"{{req.json}} auth={{auth}}"}`,
	`{"error":"invalid_request","error_description":"bad {{secret}} / {{client}}"}`,
	`{"error":"{{secret}}"}`,
	`{"error":"invalid_client","error_description":"{{secret.url}} {{secret.b64}} {{auth.url}} {{req.b64}}"}`,
	`{"object":"error","status":400,"code":"invalid_request","message":"got {{req.json}}","request_id":"{{secret}}"}`,
	`{"object":"error","status":400,"code":"invalid_grant","message":"no","request_id":"{{client}}"}`,
	`{"object":"error","status":429,"code":"rate_limited","message":"slow","additional_data":{"rate_limit_reason":"{{secret}}","retry_after":"{{secret}}"}}`,
	`{"object":"error","status":503,"code":"service_unavailable","message":"{{auth}}","additional_data":{"committed_resource_id":"{{secret}}","retry_guidance":["{{client}}"]}}`,
	`<html><head><title>{{req}} {{auth}}</title></head></html>`,
	`<title>{{secret.url}} {{auth.url}}</title>`,
	`{{req}}`,
	`{"access_token":"","error_description":"{{secret}}"}`,
	`{"active":"{{secret}}"}`,
}

func FuzzTokenResponse(f *testing.F) {
	status := func(s int) uint8 { return index(fuzzStatuses[:], s) }
	const ctJSON, ctHTML, ctHTMLRay = 1, 4, 3
	type seed struct {
		status          int
		ct, ra, rid, lc uint8
		body            string
	}
	var seeds []seed
	for i, b := range fuzzFixtures(f) {
		for j, s := range []int{400, 401, 403, 429, 503, 200} {
			if (i+j)%2 == 0 {
				seeds = append(seeds, seed{s, uint8(i+j) % 5, uint8(i) % 8, uint8(j) % 3, 0, string(b)})
			}
		}
	}
	// The token endpoint's own errors, with their own statuses.
	oauthFiles, err := filepath.Glob(filepath.Join("testdata", "oauth", "*.json"))
	if err != nil || len(oauthFiles) == 0 {
		f.Fatalf("no testdata/oauth fixtures: %v", err)
	}
	for _, name := range oauthFiles {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		s := 400
		if strings.Contains(name, "invalid_client") || strings.Contains(name, "unauthorized_") {
			s = 401
		}
		seeds = append(seeds, seed{s, ctJSON, 0, 1, 0, string(b)}, seed{200, ctJSON, 0, 0, 0, string(b)})
	}
	for _, body := range []string{fuzzTokenOK, fuzzTokenNullRefresh, fuzzIntrospectActive, fuzzIntrospectInactive, fuzzRevokeOK} {
		seeds = append(seeds, seed{200, ctJSON, 0, 1, 0, body}, seed{201, 2, 0, 0, 0, body})
	}
	seeds = append(seeds,
		seed{200, 0, 0, 0, 0, ""},
		seed{204, 0, 0, 1, 0, ""},
		seed{200, ctJSON, 0, 0, 0, "null"},
		seed{200, ctJSON, 0, 0, 0, "[]"},
		seed{200, ctJSON, 0, 0, 0, `{"access_token":null}`},
		seed{200, ctJSON, 0, 0, 0, `{"access_token":"x","active":true,"iat":1e999}`},
		seed{200, ctJSON, 0, 0, 0, `{"active":true,"iat":-5}`},
		seed{200, ctHTML, 0, 0, 0, "<html><title>Login</title></html>"},
		seed{429, ctJSON, 2, 1, 0, `{"object":"error","status":429,"code":"rate_limited","message":"slow down"}`},
		seed{429, 0, 7, 0, 0, ""},
		seed{401, ctJSON, 0, 0, 0, `{"error":"unauthorized"}`},
		seed{503, ctHTMLRay, 0, 0, 0, "<html><title>503 Service Unavailable</title></html>"},
		seed{302, 0, 0, 0, 0, ""},
	)
	for i, body := range fuzzEchoBodies {
		seeds = append(seeds,
			seed{[]int{400, 200, 401, 403, 429, 500}[i%6], uint8(i) % 5, 0, uint8(i) % 6, 0, body},
			seed{200, ctJSON, 0, 3, 0, body})
	}
	for lc := range fuzzLocations {
		seeds = append(seeds, seed{302, ctHTML, 0, 0, uint8(lc), "<title>moved {{secret}}</title>"})
	}
	for rid := range fuzzRequestIDs {
		seeds = append(seeds, seed{400, ctJSON, 0, uint8(rid), 0, `{"error":"invalid_grant"}`})
	}
	for i, s := range seeds {
		for call := range 4 {
			f.Add(uint8(call), uint8(i+call)%2, status(s.status), s.ct, s.ra, s.rid, s.lc, []byte(s.body))
		}
	}

	f.Fuzz(func(t *testing.T, call, set, statusIdx, ct, ra, rid, lc uint8, body []byte) {
		p := pick(fuzzPlantedSets[:], set)
		st := pick(fuzzStatuses[:], statusIdx)
		cty := pick(fuzzContentTypes[:], ct)
		ep := &fuzzEndpoint{
			status: st,
			header: map[string]string{
				"Content-Type":   cty[0],
				HeaderCFRay:      cty[1],
				HeaderRetryAfter: pick(fuzzRetryAfters[:], ra),
				HeaderRequestID:  pick(fuzzRequestIDs[:], rid),
				"Location":       pick(fuzzLocations[:], lc),
			},
			body:   string(body),
			client: p.clientSecret,
		}
		c := fuzzConfig(p, ep)
		ctx := context.Background()

		var (
			name, path, secret string
			want               map[string]string // the request body
			tok                *Token
			in                 *Introspection
			err                error
		)
		switch call % 4 {
		case 0:
			name, path, secret = "Exchange", pathToken, p.code
			want = map[string]string{"grant_type": "authorization_code", "code": p.code, "redirect_uri": fuzzRedirect}
			ep.secret = secret
			tok, err = c.Exchange(ctx, secret)
		case 1:
			name, path, secret = "Refresh", pathToken, p.refresh
			want = map[string]string{"grant_type": "refresh_token", "refresh_token": p.refresh}
			ep.secret = secret
			tok, err = c.Refresh(ctx, secret)
		case 2:
			name, path, secret = "Introspect", pathIntrospect, p.token
			want = map[string]string{"token": p.token}
			ep.secret = secret
			in, err = c.Introspect(ctx, secret)
		case 3:
			name, path, secret = "Revoke", pathRevoke, p.token
			want = map[string]string{"token": p.token}
			ep.secret = secret
			err = c.Revoke(ctx, secret)
		}
		what := fmt.Sprintf("%s, %d answer", name, st)

		// The request, whatever the answer.
		r := ep.first
		if r == nil {
			t.Fatalf("%s: nothing was sent", what)
		}
		if r.Method != http.MethodPost || r.URL.String() != DefaultBaseURL+path {
			t.Fatalf("%s: sent %s %s, want POST %s", what, r.Method, r.URL, DefaultBaseURL+path)
		}
		if id, sec, ok := r.BasicAuth(); !ok || id != fuzzClientID || sec != p.clientSecret {
			t.Fatalf("%s: Basic credentials %q, %q, %v; want the client's", what, id, sec, ok)
		}
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Notion-Version") != DefaultNotionVersion {
			t.Fatalf("%s: request headers %v", what, r.Header)
		}
		var sent map[string]string
		if json.Unmarshal(ep.firstBody, &sent) != nil || fmt.Sprint(sent) != fmt.Sprint(want) {
			t.Fatalf("%s: request body %s, want %v", what, ep.firstBody, want)
		}
		redirected := st/100 == 3 && ep.header["Location"] != ""
		if ep.calls != 1 && !(redirected && ep.calls <= 11) {
			t.Fatalf("%s: %d requests sent, want 1", what, ep.calls)
		}

		if err != nil {
			sent := []string{p.clientSecret, p.basic(), secret}
			e := checkOAuthError(t, what, err, path, sent, sent)
			if e.StatusCode != 0 && e.StatusCode != st {
				t.Fatalf("%s: StatusCode = %d, want %d", what, e.StatusCode, st)
			}
			// A 2xx answer fails as Unavailable, unless it names an
			// error, which is classified by its code.
			if _, named := parseErrorBody(ep.served); st/100 == 2 && !named && e.Kind != Unavailable {
				t.Fatalf("%s: %s for a 2xx answer without an error body: %#v", what, e.Kind, e)
			}
			return
		}
		if st/100 != 2 || redirected {
			t.Fatalf("%s: success for a %d answer", what, st)
		}
		if _, named := parseErrorBody(ep.served); named {
			t.Fatalf("%s: success for an error body %q", what, ep.served)
		}
		switch call % 4 {
		case 0, 1:
			if tok == nil || tok.AccessToken == "" {
				t.Fatalf("%s: success with token %v", what, tok)
			}
			if !tok.Obtained.Equal(fuzzNow) {
				t.Fatalf("%s: Obtained = %v, want Config.Now %v", what, tok.Obtained, fuzzNow)
			}
		case 2:
			if in == nil {
				t.Fatalf("%s: success without an Introspection", what)
			}
			if !in.IssuedAt.IsZero() && in.IssuedAt.Location() != time.UTC {
				t.Fatalf("%s: IssuedAt %v not in UTC", what, in.IssuedAt)
			}
		}
	})
}

// CSRF state.

// fuzzStateConfig returns a Config with fuzzStateKey and no memory of used
// states yet.
func fuzzStateConfig() *Config {
	return &Config{ClientID: fuzzClientID, StateKey: fuzzStateKey, Now: func() time.Time { return fuzzNow }}
}

// fuzzState builds a state as NewState lays one out (checked by
// checkFuzzStateLayout), with a chosen version, expiry (Unix ns) and nonce,
// signed by c for session.
func fuzzState(c *Config, version byte, expiry uint64, nonce []byte, session string) string {
	var b [stateSize]byte
	b[0] = version
	binary.BigEndian.PutUint64(b[1:9], expiry)
	copy(b[9:9+stateNonceSize], nonce)
	copy(b[9+stateNonceSize:], c.sessionTag(session))
	copy(b[stateSize-sha256.Size:], c.stateMAC(b[:stateSize-sha256.Size]))
	return stateEncoding.EncodeToString(b[:])
}

// checkFuzzStateLayout fails unless fuzzState rebuilds what NewState makes.
func checkFuzzStateLayout(tb testing.TB) {
	tb.Helper()
	c := fuzzStateConfig()
	st, err := c.NewState("sess-ada")
	if err != nil {
		tb.Fatal(err)
	}
	b, err := stateEncoding.DecodeString(st)
	if err != nil || len(b) != stateSize {
		tb.Fatalf("NewState = %q: %v", st, err)
	}
	again := fuzzState(c, stateVersion, uint64(fuzzNow.Add(DefaultStateTTL).UnixNano()), b[9:9+stateNonceSize], "sess-ada")
	if again != st {
		tb.Fatalf("fuzzState rebuilt %q, NewState made %q: the layout changed", again, st)
	}
}

// fuzzStateSeed is a state of fuzzStates and the verdict VerifyState owes it.
type fuzzStateSeed struct {
	session string // the session it was made for
	early   string // the verdict whatever the session (malformed, forged); "" if none
	late    string // the verdict for its own session: "" (valid), expired or malformed
}

// verdict is the StateError reason VerifyState, on a Config that has seen
// no state yet, owes this state for session; "" is nil.
func (s fuzzStateSeed) verdict(session string) string {
	switch {
	case s.early != "":
		return s.early
	case session == "" || session != s.session:
		return StateSession
	}
	return s.late
}

// fuzzStates are states made with fuzzStateKey (or, forged, without it)
// and deterministic nonces, so that they are the same in every fuzzing
// process: the only states that VerifyState may accept.
var fuzzStates = sync.OnceValue(func() map[string]fuzzStateSeed {
	c := fuzzStateConfig()
	otherKey := fuzzStateConfig()
	otherKey.StateKey = []byte("another-state-key-0123456789abcd")
	otherClient := fuzzStateConfig()
	otherClient.ClientID = "another-client-id"
	exp := uint64(fuzzNow.Add(DefaultStateTTL).UnixNano())
	now := uint64(fuzzNow.UnixNano())
	n := byte(0)
	nonce := func() []byte {
		n++
		return bytes.Repeat([]byte{n}, stateNonceSize)
	}
	m := map[string]fuzzStateSeed{}
	add := func(cfg *Config, version byte, expiry uint64, session string, s fuzzStateSeed) {
		s.session = session
		m[fuzzState(cfg, version, expiry, nonce(), session)] = s
	}
	for _, session := range []string{"sess-ada", "sess-bob", "sess\x00ada", "セッション", strings.Repeat("s", 1000)} {
		add(c, stateVersion, exp, session, fuzzStateSeed{})
	}
	add(c, stateVersion, exp, "sess-ada", fuzzStateSeed{})
	add(c, stateVersion, now+1, "sess-ada", fuzzStateSeed{})
	add(c, stateVersion, exp, "", fuzzStateSeed{}) // NewState refuses it; VerifyState must too
	add(c, stateVersion, now, "sess-ada", fuzzStateSeed{late: StateExpired})
	add(c, stateVersion, 0, "sess-ada", fuzzStateSeed{late: StateExpired})
	add(c, stateVersion, math.MaxInt64+1, "sess-ada", fuzzStateSeed{late: StateMalformed})
	add(c, stateVersion, math.MaxUint64, "sess-ada", fuzzStateSeed{late: StateMalformed})
	add(c, 0, exp, "sess-ada", fuzzStateSeed{early: StateMalformed})
	add(c, stateVersion+1, exp, "sess-ada", fuzzStateSeed{early: StateMalformed})
	add(otherKey, stateVersion, exp, "sess-ada", fuzzStateSeed{early: StateForged})
	add(otherClient, stateVersion, exp, "sess-ada", fuzzStateSeed{early: StateForged})
	return m
})

// fuzzStateFor returns the first state of fuzzStates, in sorted order,
// whose verdict for session is want.
func fuzzStateFor(session, want string) string {
	for _, st := range slices.Sorted(maps.Keys(fuzzStates())) {
		if s := fuzzStates()[st]; s.session == session && s.verdict(session) == want {
			return st
		}
	}
	panic("no state for " + session + " with verdict " + want)
}

// mutateState changes a state in one of the ways an attacker or a broken
// proxy might; it may return st itself.
func mutateState(st string, op uint8, pos uint16, val byte) string {
	i := int(pos) % len(st)
	b := []byte(st)
	switch op % 8 {
	case 0: // flip a bit of a character
		b[i] ^= 1 << (val % 8)
		return string(b)
	case 1: // truncate
		return st[:i]
	case 2: // append
		return st + string([]byte{val})
	case 3: // replace a character
		b[i] = val
		return string(b)
	case 4: // insert a character
		return st[:i] + string([]byte{val}) + st[i:]
	}
	raw, err := stateEncoding.DecodeString(st)
	if err != nil {
		return st
	}
	switch op % 8 {
	case 5: // flip a bit of the decoded state, well encoded again
		raw[int(pos)%len(raw)] ^= 1 << (val % 8)
		return stateEncoding.EncodeToString(raw)
	case 6: // padded
		return base64.URLEncoding.EncodeToString(raw)
	default: // the standard alphabet
		return base64.RawStdEncoding.EncodeToString(raw)
	}
}

// checkStateError requires err to be a *StateError with one of the
// reasons in want, one line.
func checkStateError(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	var se *StateError
	if !errors.As(err, &se) {
		t.Fatalf("%s: error %T (%v), want *StateError", what, err, err)
	}
	if !errors.Is(err, ErrStateInvalid) {
		t.Fatalf("%s: %v does not match ErrStateInvalid", what, err)
	}
	ok := false
	for _, w := range want {
		ok = ok || se.Reason == w
	}
	if !ok {
		t.Fatalf("%s: reason %q, want one of %q", what, se.Reason, want)
	}
	checkPrinted(t, what, err)
}

func FuzzVerifyState(f *testing.F) {
	checkFuzzStateLayout(f)
	// A map's order changes from run to run; seeds should not.
	for i, st := range slices.Sorted(maps.Keys(fuzzStates())) {
		s := fuzzStates()[st]
		f.Add(st, s.session, s.session, uint8(i), uint16(i*7), byte(i))
		f.Add(st, "sess-ada", "sess-bob", uint8(i+1), uint16(i*13), byte('A'+i))
		f.Add(st, "", "sess-ada", uint8(i+2), uint16(97), byte('='))
		f.Add(st[:len(st)-1], s.session, "", uint8(5), uint16(0), byte(1))
		f.Add(st+"=", s.session, "sess-ada", uint8(6), uint16(3), byte(0x80))
		f.Add(strings.NewReplacer("-", "+", "_", "/").Replace(st), s.session, "x", uint8(7), uint16(0), byte(0))
	}
	valid := fuzzStateFor("sess-ada", "")
	for _, st := range []string{
		"", "=", "====", strings.Repeat("A", 98), strings.Repeat("_", 98), strings.Repeat("A", 97) + "B",
		valid[:97] + "B", valid[:97] + "=", " " + valid[1:], valid[:50] + "\n" + valid[51:],
		valid[:97] + "\xc3", strings.ToUpper(valid), "AQ", url.QueryEscape(valid + "="),
	} {
		f.Add(st, "sess-ada", "sess-ada", uint8(0), uint16(97), byte(2))
	}
	f.Add(valid, "sess-ada ", "sess-ada\x00", uint8(4), uint16(97), byte(' '))

	f.Fuzz(func(t *testing.T, state, session, mint string, op uint8, pos uint16, val byte) {
		ctx := context.Background()
		c := fuzzStateConfig()
		what := fmt.Sprintf("VerifyState(%q, %q)", state, session)
		err := c.VerifyState(ctx, state, session)
		if s, known := fuzzStates()[state]; known {
			want := s.verdict(session)
			if want == "" {
				if err != nil {
					t.Fatalf("%s = %v, want nil", what, err)
				}
				checkStateError(t, what+" again", c.VerifyState(ctx, state, session), StateReplayed)
			} else {
				checkStateError(t, what, err, want)
			}
		} else {
			// Not made with this key and client id for this session:
			// it must fail before its session is even looked at.
			if err == nil {
				t.Fatalf("%s = nil for a state NewState did not make", what)
			}
			checkStateError(t, what, err, StateMalformed, StateForged)
			if len(state) != 98 {
				checkStateError(t, what, err, StateMalformed)
			}
		}

		// A fresh state, from NewState.
		what = fmt.Sprintf("NewState(%q)", mint)
		st, err := c.NewState(mint)
		if mint == "" {
			var e *Error
			if err == nil || !errors.As(err, &e) || e.Kind != InvalidRequest {
				t.Fatalf("%s = %q, %v; want an InvalidRequest *Error", what, st, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(st) != 98 || strings.Trim(st, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("%s = %q: not 98 URL-safe characters", what, st)
		}
		// Failed attempts first: none may use up the state.
		if m := mutateState(st, op, pos, val); m != st {
			err := c.VerifyState(ctx, m, mint)
			if err == nil {
				t.Fatalf("VerifyState(%q), mutated (op %d) from %q, = nil", m, op%8, st)
			}
			want := []string{StateMalformed, StateForged}
			if op%8 == 5 { // a well-encoded state with one bit changed
				want = []string{StateForged}
				if int(pos)%stateSize == 0 {
					want = []string{StateMalformed} // the version
				}
			}
			checkStateError(t, fmt.Sprintf("VerifyState(%q), mutated (op %d)", m, op%8), err, want...)
		}
		if session != mint {
			checkStateError(t, fmt.Sprintf("VerifyState(state for %q, %q)", mint, session),
				c.VerifyState(ctx, st, session), StateSession)
		}
		other := fuzzStateConfig()
		other.StateKey = []byte("another-state-key-0123456789abcd")
		checkStateError(t, "VerifyState with another key", other.VerifyState(ctx, st, mint), StateForged)
		late := fuzzStateConfig()
		late.Now = func() time.Time { return fuzzNow.Add(DefaultStateTTL) }
		checkStateError(t, "VerifyState when expired", late.VerifyState(ctx, st, mint), StateExpired)
		// The state works once, then never again.
		if err := c.VerifyState(ctx, st, mint); err != nil {
			t.Fatalf("VerifyState(NewState(%q)) = %v", mint, err)
		}
		checkStateError(t, "VerifyState replayed", c.VerifyState(ctx, st, mint), StateReplayed)
	})
}

// The callback.

// fuzzCallbackAnswers are the stub token endpoint's answers in
// FuzzHandleCallback, with the Kind each must give ("" for success).
var fuzzCallbackAnswers = [...]struct {
	status int
	ctype  string
	body   string
	kind   Kind
}{
	{200, "application/json", fuzzTokenOK, Unclassified},
	{400, "application/json", `{"error":"invalid_grant","error_description":"Invalid code."}`, AuthRevoked},
	{400, "application/json", `{"error":"invalid_grant","error_description":"{{req.json}} {{auth}}"}`, AuthRevoked},
	{503, "text/html", `<html><title>{{req}} {{auth}}</title></html>`, Unavailable},
	{200, "application/json", `{"object":"error","code":"invalid_grant","message":"{{secret.json}}","request_id":"r"}`, AuthRevoked},
}

func FuzzHandleCallback(f *testing.F) {
	checkFuzzStateLayout(f)
	ada, expired := fuzzStateFor("sess-ada", ""), fuzzStateFor("sess-ada", StateExpired)
	for i, q := range []string{
		"code={{code}}&state={{state}}",
		"state={{state}}&code={{code}}&extra=1",
		"error=access_denied&state={{state}}",
		"error=access_denied&error_description=User%20cancelled.&state={{state}}",
		"error=server_error&error_description=line%0Aone%0D%0Atwo&state={{state}}&code={{code}}",
		"error={{code}}&state={{state}}",
		"state={{state}}",
		"state={{state}}&code=",
		"code={{code}}",
		"code={{code}}&state={{other}}",
		"code={{code}}&state=" + ada,
		"code={{code}}&state=" + expired,
		"code={{code}}&state={{state}}&state=x",
		"state=x&state={{state}}&code={{code}}",
		"code={{code}};state={{state}}",
		"code=%zz&state={{state}}",
		"code={{code}}&state={{state}}&error=",
		"code={{code}}&code=other&state={{state}}",
		"code=&code={{code}}&state={{state}}",
		"code=%FF%FE&state={{state}}",
		"code=secret_FUZZCLIENT_88aa77bb&state={{state}}",
		"code={{code}}&state={{state}}%3D",
		"",
		"&&&=&",
	} {
		for _, session := range []string{"sess-ada", "", "sess-bob"} {
			f.Add(q, session, uint8(i), uint8(i))
		}
	}

	f.Fuzz(func(t *testing.T, rawQuery, session string, set, answer uint8) {
		p := pick(fuzzPlantedSets[:], set)
		a := pick(fuzzCallbackAnswers[:], answer)
		ep := &fuzzEndpoint{
			status: a.status,
			header: map[string]string{"Content-Type": a.ctype, HeaderRequestID: fxHdrReqID},
			body:   a.body,
			client: p.clientSecret,
		}
		c := fuzzConfig(p, ep)
		ctx := context.Background()

		// Fill in the placeholders: a state from NewState for the
		// session (or, without one, for nobody), one for another
		// session, and the planted code.
		var minted string
		if strings.Contains(rawQuery, "{{") {
			var err error
			mintFor := session
			if mintFor == "" {
				mintFor = "sess-nobody"
			}
			if minted, err = c.NewState(mintFor); err != nil {
				t.Fatal(err)
			}
			other, err := c.NewState("other-" + session)
			if err != nil {
				t.Fatal(err)
			}
			rawQuery = strings.NewReplacer("{{state}}", minted, "{{other}}", other,
				"{{code}}", url.QueryEscape(p.code)).Replace(rawQuery)
		}
		r := &http.Request{Method: http.MethodGet, Header: http.Header{},
			URL: &url.URL{Scheme: "https", Host: "app.example", Path: "/notion/callback", RawQuery: rawQuery}}
		q := r.URL.Query()
		state, code, cbErr := q.Get("state"), q.Get("code"), q.Get("error")
		seed, known := fuzzStates()[state]
		validState := minted != "" && state == minted && session != "" || known && seed.verdict(session) == ""
		ep.secret = code

		// Secrets no error may show, unless the callback's own error
		// parameters carry them (the CallbackError quotes those). The
		// planted code counts only when it is the code sent.
		candidates := []string{p.clientSecret, p.basic()}
		if code == p.code {
			candidates = append(candidates, p.code)
		}
		var secrets []string
		for _, s := range candidates {
			if !strings.Contains(cbErr, s) && !strings.Contains(q.Get("error_description"), s) {
				secrets = append(secrets, s)
			}
		}

		what := fmt.Sprintf("HandleCallback(?%s, %q)", rawQuery, session)
		tok, err := c.HandleCallback(ctx, r, session)
		switch {
		case !validState:
			checkStateError(t, what, err, StateMalformed, StateForged, StateSession, StateExpired)
			if ep.calls != 0 {
				t.Fatalf("%s: %d exchanges without a valid state", what, ep.calls)
			}
		case cbErr != "" || code == "":
			var ce *CallbackError
			if !errors.As(err, &ce) {
				t.Fatalf("%s = %v (%T), want a *CallbackError", what, err, err)
			}
			if cbErr != "" && ce.Code != cbErr || cbErr == "" && ce.Code != CodeInvalidRequest {
				t.Fatalf("%s: Code %q, want %q", what, ce.Code, cbErr)
			}
			if is := errors.Is(err, ErrUserCancelled); is != (cbErr == "access_denied") {
				t.Fatalf("%s: errors.Is(err, ErrUserCancelled) = %v for error %q", what, is, cbErr)
			}
			checkPrinted(t, what, err, secrets...)
			if ep.calls != 0 {
				t.Fatalf("%s: %d exchanges for a callback without a code", what, ep.calls)
			}
		default:
			if ep.calls != 1 {
				t.Fatalf("%s: %d exchanges, want 1", what, ep.calls)
			}
			var sent tokenRequest
			if err := json.Unmarshal(ep.firstBody, &sent); err != nil {
				t.Fatalf("%s: sent %q: %v", what, ep.firstBody, err)
			}
			if utf8.ValidString(code) && sent.Code != code || sent.GrantType != "authorization_code" || sent.RedirectURI != fuzzRedirect {
				t.Fatalf("%s: sent %+v, want the code %q", what, sent, code)
			}
			if a.kind == Unclassified {
				if err != nil || tok == nil || tok.AccessToken == "" {
					t.Fatalf("%s = %v, %v; want a token", what, tok, err)
				}
				break
			}
			e := checkOAuthError(t, what, err, pathToken, []string{p.clientSecret, p.basic(), code}, secrets)
			if e.Kind != a.kind {
				t.Fatalf("%s: Kind %v, want %v", what, e.Kind, a.kind)
			}
		}

		// The same callback again: a state works once.
		calls := ep.calls
		_, err = c.HandleCallback(ctx, r, session)
		if validState {
			checkStateError(t, what+" again", err, StateReplayed)
		} else if err == nil {
			t.Fatalf("%s again = nil", what)
		}
		if ep.calls != calls {
			t.Fatalf("%s again: exchanged", what)
		}
	})
}

// Found by the targets above.

// TestRequestIDEchoIsScrubbed: a proxy or server that echoes the code, a
// token, the client secret or the Authorization header into the answer's
// request_id (body) or X-Notion-Request-Id (header) puts nothing of it in
// Error.RequestID, which %#v prints: a request id that is not a UUID is
// not kept.
func TestRequestIDEchoIsScrubbed(t *testing.T) {
	t.Parallel()
	p := fuzzPlantedSets[1] // no Notion prefix: redactTokens cannot hide it
	tests := []struct {
		name         string
		header, body string
		secret       string
	}{
		{"code in the body", "", `{"error":"invalid_grant","request_id":"{{secret}}"}`, p.code},
		{"code in the header", "{{secret}}", `{"error":"invalid_grant"}`, p.code},
		{"client secret in the body", "", `{"error":"invalid_client","request_id":"{{client}}"}`, p.clientSecret},
		{"Authorization in the header", "{{auth}}", `{"error":"invalid_client"}`, p.basic()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := &fuzzEndpoint{
				status: http.StatusBadRequest,
				header: map[string]string{"Content-Type": "application/json", HeaderRequestID: tt.header},
				body:   tt.body, secret: p.code, client: p.clientSecret,
			}
			_, err := fuzzConfig(p, ep).Exchange(context.Background(), p.code)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.NotContains(t, e.RequestID, tt.secret, "Error.RequestID")
			assert.NotContains(t, fmt.Sprintf("%#v", err), tt.secret, "GoString (%#v)")
		})
	}
}
