package notionauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// tokenLikeRE matches what redactTokens must remove: a Notion secret
// prefix followed by at least 8 token characters.
var tokenLikeRE = regexp.MustCompile(`(secret_|ntn_|nrt_)[A-Za-z0-9_-]{8,}`)

// fuzzFixtures returns every fixture body under testdata/{notion,edge,oauth}.
func fuzzFixtures(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, dir := range []string{"notion", "edge", "oauth"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		f.Fatal("no fixtures under testdata/")
	}
	return out
}

// oneLineOK reports whether s is safe to log as one line.
func oneLineOK(s string) bool { return !strings.ContainsAny(s, "\r\n") }

func FuzzParseErrorBody(f *testing.F) {
	for _, b := range fuzzFixtures(f) {
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("{}"))
	f.Add([]byte("null"))
	f.Add([]byte(`{"object":"error","additional_data":{"retry_after":1e999}}`))
	f.Add([]byte(`{"error":"invalid_grant","error_description":"` + strings.Repeat("\\n", 40) + `"}`))
	f.Add([]byte("\xff\xfe<TITLE>\u0130 Notion</title>"))

	f.Fuzz(func(t *testing.T, body []byte) {
		b, ok := parseErrorBody(body)
		if ok {
			trimmed := bytes.TrimSpace(body)
			if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
				t.Fatalf("parseErrorBody(%q) ok for a body that is not a JSON object", body)
			}
			if b.object != "error" && b.code == "" {
				t.Fatalf("parseErrorBody(%q) ok without object or code", body)
			}
		}
		for _, status := range []int{400, 401, 403, 404, 429, 503} {
			for _, h := range []http.Header{
				{HeaderRequestID: {"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}},
				{HeaderCFRay: {"ray"}, "Content-Type": {"text/html"}},
			} {
				e := classify(status, h, body, "GET", "/v1/pages/"+fxPage, "", retryNow)
				checkFuzzError(t, e, status)
			}
		}
	})
}

// checkFuzzError checks what must hold of any *Error built from a response.
func checkFuzzError(t *testing.T, e *Error, status int) {
	t.Helper()
	if e == nil {
		t.Fatalf("status %d: nil *Error", status)
	}
	if e.StatusCode != status {
		t.Fatalf("StatusCode = %d, want %d", e.StatusCode, status)
	}
	if e.Kind == Unclassified {
		t.Fatalf("status %d classified as Unclassified: %#v", status, e)
	}
	if e.Reason == ReasonEdge && (e.Kind == AuthRevoked || e.Kind == PermissionLost) {
		t.Fatalf("an edge answer became %v: %#v", e.Kind, e)
	}
	if e.Kind == AuthRevoked && status == 401 && !isOAuthPath(e.Path) && e.RequestID == "" {
		t.Fatalf("a 401 without a Notion request id became token loss: %#v", e)
	}
	if e.Reason == ReasonMissingCapability && (e.Kind != PermissionLost || e.ObjectID != "") {
		t.Fatalf("a missing capability names an object or is not PermissionLost: %#v", e)
	}
	if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
		t.Fatalf("RetryAfter = %v out of range", e.RetryAfter)
	}
	if e.ObjectID != "" && !uuidRE.MatchString(e.ObjectID) {
		t.Fatalf("ObjectID = %q, not a dashed lower-case id", e.ObjectID)
	}
	s := e.Error()
	if !strings.HasPrefix(s, "notionauth: ") {
		t.Fatalf("Error() = %q, want the notionauth: prefix", s)
	}
	if !oneLineOK(s) {
		t.Fatalf("Error() = %q is not one line", s)
	}
	if m := tokenLikeRE.FindString(s); m != "" {
		t.Fatalf("Error() = %q shows token-like %q", s, m)
	}
	if g := e.GoString(); !oneLineOK(g) {
		t.Fatalf("GoString() = %q is not one line", g)
	}
}

func FuzzCheckResponse(f *testing.F) {
	for i, b := range fuzzFixtures(f) {
		statuses := []int{400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 529}
		f.Add(statuses[i%len(statuses)], "12", "8f3c2a1b7d6e5f4a-SJC", fxHdrReqID, "/v1/pages/"+fxPage, "", b)
		f.Add(statuses[(i+3)%len(statuses)], "", "8f3c2a1b7d6e5f4a-SJC", "", "/v1/comments", "block_id="+fxPageRaw, b)
	}
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", "", "", "/v1/search", "", []byte(`{"object":"error","code":"rate_limited"}`))
	f.Add(429, "-1", "ray", "req", "/v1/oauth/token", "", []byte(`{"error":"invalid_grant"}`))
	f.Add(401, "1e999", "ray\nray", "req\r\nid", "/v1/users/me\n", "a=b\n", []byte("<title>\n</title>"))
	// An app's own proxy answering 401 in JSON.
	f.Add(401, "", "", "", "/v1/users/me", "", []byte(`{"error":"unauthorized"}`))
	f.Add(401, "", "", "", "/v1/users/me", "", []byte(`{"object":"error","status":401,"code":"unauthorized"}`))
	// A Latin-1 proxy page: not UTF-8.
	f.Add(403, "", "", "", "/v1/pages", "", []byte("<html><!-- Zugriff f\xfcr Sie gesperrt --><title>Zugriff verweigert</title></html>"))

	f.Fuzz(func(t *testing.T, status int, retryAfter, cfRay, reqID, path, query string, body []byte) {
		status = 400 + (status%200+200)%200
		h := http.Header{}
		if retryAfter != "" {
			h[HeaderRetryAfter] = []string{retryAfter}
		}
		if cfRay != "" {
			h[HeaderCFRay] = []string{cfRay}
		}
		if reqID != "" {
			h[HeaderRequestID] = []string{reqID}
		}
		resp := &http.Response{
			StatusCode: status,
			Header:     h,
			Body:       io.NopCloser(bytes.NewReader(body)),
			Request: &http.Request{
				Method: http.MethodPost,
				URL:    &url.URL{Scheme: "https", Host: "api.notion.com", Path: path, RawQuery: query},
			},
		}
		err := CheckResponse(resp)
		if err == nil {
			t.Fatalf("CheckResponse(%d) = nil", status)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("CheckResponse returned %T, want *Error", err)
		}
		checkFuzzError(t, e, status)
		got, rerr := io.ReadAll(resp.Body)
		if rerr != nil || !bytes.Equal(got, body) {
			t.Fatalf("resp.Body after CheckResponse = %q, %v; want %q", got, rerr, body)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{
		"", "0", "12", "1.5", ".5", "-1", "+5", "NaN", "Inf", "1e999", "1e-999", "86401", " 7 ",
		"soon", "0x1p4", "9223372037",
		retryNow.Add(time.Minute).Format(http.TimeFormat),
		retryNow.Add(-time.Minute).Format(time.RFC850),
		retryNow.Add(48 * time.Hour).Format(time.ANSIC),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, retryNow)
		if !ok {
			if d != 0 {
				t.Fatalf("parseRetryAfter(%q) = %v, false; want 0 when not ok", v, d)
			}
			return
		}
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v, out of [0, %v]", v, d, maxRetryAfter)
		}
	})
}

func FuzzObjectID(f *testing.F) {
	f.Add("/v1/pages/"+fxPage, "", "")
	f.Add("/v1/pages/"+fxPageUpper+"/properties/title", "", "")
	f.Add("/v1/comments", "block_id="+fxBlockUp, "")
	f.Add("/v1/comments", "block_id=%zz&page_id="+fxPageRaw, "")
	f.Add("/v1/pages", "", "Could not find database with ID: "+fxDBRaw+".")
	f.Add("/v1/search", "", "Could not find object.")
	f.Add("", "", "id "+fxBlockUp+"-"+fxPageRaw)
	for _, b := range fuzzFixtures(f) {
		f.Add("/v1/pages", "", string(b))
	}
	f.Fuzz(func(t *testing.T, path, query, message string) {
		for _, id := range []string{
			objectID(path, query, message),
			findID(message),
			findID(path),
		} {
			if id != "" && !uuidRE.MatchString(id) {
				t.Fatalf("objectID(%q, %q, %q) found %q, not a dashed lower-case id", path, query, message, id)
			}
		}
		if id, ok := parseID(message); ok {
			if !uuidRE.MatchString(id) {
				t.Fatalf("parseID(%q) = %q, not a dashed lower-case id", message, id)
			}
			if again, ok := parseID(id); !ok || again != id {
				t.Fatalf("parseID(parseID(%q)) = %q, %v; want %q", message, again, ok, id)
			}
			if !strings.EqualFold(strings.ReplaceAll(message, "-", ""), strings.ReplaceAll(id, "-", "")) {
				t.Fatalf("parseID(%q) = %q changed the digits", message, id)
			}
		} else if id != "" {
			t.Fatalf("parseID(%q) = %q, false", message, id)
		}
	})
}

func FuzzRedact(f *testing.F) {
	for _, s := range fxSecrets {
		f.Add(s, 64)
		f.Add("Bearer "+s+"\nnext line", 20)
	}
	f.Add("secret_abcdefg", 10)
	f.Add("ntn_secret_abcdefghijkl", 8)
	f.Add("ntn_abc\x00defghijkl", 512)
	f.Add("é"+strings.Repeat("x", 100), 1)
	for _, b := range fuzzFixtures(f) {
		f.Add(string(b), 512)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		out := redactTokens(s)
		if m := tokenLikeRE.FindString(out); m != "" {
			t.Fatalf("redactTokens(%q) = %q still shows %q", s, out, m)
		}
		if tokenLikeRE.MatchString(s) && !strings.Contains(out, "[redacted]") {
			t.Fatalf("redactTokens(%q) = %q redacted nothing", s, out)
		}
		if max < 1 {
			max = 1
		}
		max = max%4096 + 1
		line := oneLine(s, max)
		if m := tokenLikeRE.FindString(line); m != "" {
			t.Fatalf("oneLine(%q, %d) = %q shows %q", s, max, line, m)
		}
		if !oneLineOK(line) {
			t.Fatalf("oneLine(%q, %d) = %q is not one line", s, max, line)
		}
		if utf8.ValidString(s) {
			if len(line) > max+len("…") {
				t.Fatalf("oneLine(%q, %d) is %d bytes", s, max, len(line))
			}
			if !utf8.ValidString(line) {
				t.Fatalf("oneLine(%q, %d) = %q split a rune", s, max, line)
			}
		}
		e := &Error{Kind: AuthRevoked, StatusCode: 401, Code: s, Message: s, Method: "GET", Path: "/v1/users/me",
			Err: errors.New(s)}
		for _, p := range []string{e.Error(), e.GoString()} {
			if m := tokenLikeRE.FindString(p); m != "" {
				t.Fatalf("printing an Error with %q shows %q", s, m)
			}
			if !oneLineOK(p) {
				t.Fatalf("printing an Error with %q gives %q, not one line", s, p)
			}
		}
	})
}

// FuzzScrub: whatever surrounds it, a secret of token characters leaves no
// form of itself (as is, URL-escaped, base64, hex) after scrubbing.
func FuzzScrub(f *testing.F) {
	f.Add("PLANTaccess7f3a9c21", "Bearer ", " echoed", uint8(0))
	f.Add("abc-def_ghi", "a=", "&b=c", uint8(1))
	f.Add("000000", "", "", uint8(5))
	f.Add("aaaaaa", "aaaa", "aaaa", uint8(7))
	f.Fuzz(func(t *testing.T, secret, before, after string, form uint8) {
		if len(secret) < minSecret || len(secret) > 200 || strings.IndexFunc(secret, func(r rune) bool {
			return r > 0x7f || !isTokenByte(byte(r))
		}) >= 0 || strings.Contains(redacted, secret) {
			return // a secret inside "[redacted]" itself cannot be told from it
		}
		s := newSecrets(secret)
		in := before + s[int(form)%len(s)] + after
		out := s.scrub(in)
		for _, f := range s {
			if strings.Contains(out, f) && !strings.Contains(redacted, f) {
				t.Fatalf("scrub(%q) = %q still holds %q", in, out, f)
			}
		}
	})
}
