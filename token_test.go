package notionauth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
)

const (
	testAccess  = "ntn_4cc3557ok3nSECRETa11ce"
	testRefresh = "nrt_r3fr35hSECRETb0b"
)

func testToken() notionauth.Token {
	return notionauth.Token{
		AccessToken:   testAccess,
		RefreshToken:  testRefresh,
		TokenType:     "bearer",
		BotID:         "7f0f0e7c-1111-4c36-9c43-000000000001",
		WorkspaceID:   "7f0f0e7c-2222-4c36-9c43-000000000002",
		WorkspaceName: "Acme",
		WorkspaceIcon: "https://example.com/icon.png",
		Owner: notionauth.Owner{Type: "user", UserID: "7f0f0e7c-3333-4c36-9c43-000000000003",
			UserName: "Ada", UserEmail: "ada@example.com", AvatarURL: "https://example.com/ada.png"},
		DuplicatedTemplateID: "7f0f0e7c-4444-4c36-9c43-000000000004",
		Obtained:             time.Date(2026, 3, 11, 9, 30, 15, 123456789, time.UTC),
	}
}

// assertNoSecrets fails when s contains any of secrets, or their
// distinctive middle (a hex or base64 rendering would not, but a partial
// quote would).
func assertNoSecrets(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		assert.NotContains(t, s, secret)
		assert.NotContains(t, s, "SECRET", "a fragment of a secret in %q", s)
		assert.NotContains(t, strings.ToLower(s), fmt.Sprintf("%x", secret), "a hex rendering of a secret")
	}
}

func TestTokenPrintsNoSecrets(t *testing.T) {
	t.Parallel()
	tok := testToken()
	ptr := &tok
	type wrapper struct {
		Tok  notionauth.Token
		Ptr  *notionauth.Token
		List []notionauth.Token
		Map  map[string]notionauth.Token
	}
	w := wrapper{Tok: tok, Ptr: ptr, List: []notionauth.Token{tok}, Map: map[string]notionauth.Token{"k": tok}}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%-v", "%T"}
	for _, verb := range verbs {
		for name, v := range map[string]any{"value": tok, "pointer": ptr, "wrapper": w, "wrapper pointer": &w} {
			t.Run(verb+"/"+name, func(t *testing.T) {
				s := fmt.Sprintf(verb, v)
				assertNoSecrets(t, s, testAccess, testRefresh)
			})
		}
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintln(ptr), tok.String(), tok.GoString(),
		fmt.Errorf("wrapped: %v", tok).Error()} {
		assertNoSecrets(t, s, testAccess, testRefresh)
	}

	s := fmt.Sprintf("%v", tok)
	assert.Contains(t, s, "AccessToken:[redacted]")
	assert.Contains(t, s, "RefreshToken:[redacted]")
	assert.Contains(t, s, tok.BotID, "the rest is printed")
	assert.Contains(t, s, "Acme")
	assert.Contains(t, fmt.Sprintf("%#v", tok), `AccessToken:"[redacted]"`)
	assert.Equal(t, "%!x(notionauth.Token)", fmt.Sprintf("%x", tok))
	assert.Equal(t, `"`+tok.String()+`"`, fmt.Sprintf("%q", tok))
	assert.Equal(t, "notio", fmt.Sprintf("%.5v", tok), "precision applies as to a string")
	assert.Equal(t, "   notio", fmt.Sprintf("%8.5s", &tok), "width too")

	none := notionauth.Token{AccessToken: testAccess}
	assert.Contains(t, none.String(), "RefreshToken:,", "an absent secret shows as empty, not as redacted")

	var nilTok *notionauth.Token
	assert.Equal(t, "<nil>", fmt.Sprintf("%v", nilTok))
}

func TestTokenSlogRedacts(t *testing.T) {
	t.Parallel()
	tok := testToken()
	for _, handler := range []string{"json", "text"} {
		for name, v := range map[string]any{"value": tok, "pointer": &tok} {
			t.Run(handler+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				var h slog.Handler = slog.NewJSONHandler(&buf, nil)
				if handler == "text" {
					h = slog.NewTextHandler(&buf, nil)
				}
				slog.New(h).Info("connected", "token", v, slog.Group("nested", "token", v))
				out := buf.String()
				assertNoSecrets(t, out, testAccess, testRefresh)
				assert.Contains(t, out, tok.BotID)
				assert.Contains(t, out, "[redacted]")
			})
		}
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("connected", "token", tok)
	var line struct {
		Token map[string]any `json:"token"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "[redacted]", line.Token["access_token"])
	assert.Equal(t, "[redacted]", line.Token["refresh_token"])
	assert.Equal(t, tok.WorkspaceID, line.Token["workspace_id"])
}

func TestTokenMarshalJSONRedacts(t *testing.T) {
	t.Parallel()
	tok := testToken()
	for name, v := range map[string]any{
		"value": tok, "pointer": &tok, "in a struct": struct{ T notionauth.Token }{tok},
		"in a slice": []*notionauth.Token{&tok},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			assertNoSecrets(t, string(b), testAccess, testRefresh)
			assert.Contains(t, string(b), `"access_token":"[redacted]"`)
			assert.Contains(t, string(b), tok.BotID)
		})
	}

	// The redacted form cannot be mistaken for a stored token.
	b, err := json.Marshal(tok)
	require.NoError(t, err)
	var back notionauth.Token
	err = json.Unmarshal(b, &back)
	var de *notionauth.TokenDecodeError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, de.Reason, "redacted")
	_, err = notionauth.DecodeToken(b)
	require.ErrorAs(t, err, &de)
}

func TestEncodeDecodeToken(t *testing.T) {
	t.Parallel()
	tok := testToken()
	b, err := notionauth.EncodeToken(&tok)
	require.NoError(t, err)
	assert.Contains(t, string(b), testAccess, "the storage path keeps the secrets")
	assert.Contains(t, string(b), `"v":1`)

	got, err := notionauth.DecodeToken(b)
	require.NoError(t, err)
	assert.True(t, tok.Obtained.Equal(got.Obtained))
	got.Obtained = tok.Obtained
	assert.Equal(t, tok, *got)

	// json.Unmarshal reads the stored form too.
	var viaJSON notionauth.Token
	require.NoError(t, json.Unmarshal(b, &viaJSON))
	assert.Equal(t, testAccess, viaJSON.AccessToken)

	// Minimal token: absent fields stay empty.
	b, err = notionauth.EncodeToken(&notionauth.Token{AccessToken: testAccess})
	require.NoError(t, err)
	got, err = notionauth.DecodeToken(b)
	require.NoError(t, err)
	assert.Equal(t, notionauth.Token{AccessToken: testAccess}, *got)

	_, err = notionauth.EncodeToken(nil)
	assert.Error(t, err)
	_, err = notionauth.EncodeToken(&notionauth.Token{RefreshToken: testRefresh})
	assert.Error(t, err, "no access token")
}

func TestDecodeTokenGarbage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, reason string
	}{
		{"nil", "", "empty"},
		{"blank", "  \n", "empty"},
		{"null", "null", "no format version"},
		{"truncated", `{"v":1,"access_token":"` + testAccess, "not a token object"},
		{"array", `["` + testAccess + `"]`, "not a token object"},
		{"string", `"` + testAccess + `"`, "not a token object"},
		{"binary", "\x00\xff\xfe" + testAccess, "not a token object"},
		{"trailing data", `{"v":1,"access_token":"` + testAccess + `"} {}`, "not a token object"},
		{"no version", `{"access_token":"` + testAccess + `"}`, "no format version"},
		{"future version", `{"v":2,"access_token":"` + testAccess + `"}`, "unsupported format version 2"},
		{"version as string", `{"v":"1","access_token":"` + testAccess + `"}`, "not a token object"},
		{"no access token", `{"v":1,"refresh_token":"` + testRefresh + `"}`, "no access token"},
		{"access token not a string", `{"v":1,"access_token":12}`, "not a token object"},
		{"bad time", `{"v":1,"access_token":"x","obtained":"` + testAccess + `"}`, "not a token object"},
		{"redacted", `{"access_token":"[redacted]","refresh_token":""}`, "redacted"},
		{"unknown field", `{"v":1,"access_token":"x","` + testRefresh + `":"y"}`, "unknown field"},
		{"field name damaged", `{"v":1,"access_token":"x","token_typf":"bearer"}`, "unknown field"},
		{"unknown owner field", `{"v":1,"access_token":"x","owner":{"type":"user","` + testAccess + `":1}}`, "unknown field"},
		{"negative version", `{"v":-1,"access_token":"` + testAccess + `"}`, "unknown format version -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := notionauth.DecodeToken([]byte(tt.in))
			assert.Nil(t, tok)
			var de *notionauth.TokenDecodeError
			require.ErrorAs(t, err, &de)
			assert.Contains(t, de.Reason, tt.reason)
			assert.True(t, strings.HasPrefix(err.Error(), "notionauth: cannot decode token: "), err.Error())
			assertNoSecrets(t, err.Error(), testAccess, testRefresh)
			assertNoSecrets(t, fmt.Sprintf("%+v %#v", err, err), testAccess, testRefresh)
			assert.Equal(t, tt.name == "future version", errors.Is(err, notionauth.ErrUnsupportedFormat),
				"only a newer version matches ErrUnsupportedFormat")
		})
	}

	// json.Unmarshal into a Token stays lenient: no version needed, and
	// fields it does not know are skipped, as for any other type.
	var tok notionauth.Token
	require.NoError(t, json.Unmarshal([]byte(`{"access_token":"x","extra":1}`), &tok))
	assert.Equal(t, "x", tok.AccessToken)
}

func FuzzDecodeToken(f *testing.F) {
	tok := testToken()
	b, _ := notionauth.EncodeToken(&tok)
	f.Add(b)
	f.Add([]byte(`{"v":1,"access_token":"a","owner":{"type":"user"}}`))
	f.Add([]byte(`{"v":1e400}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := notionauth.DecodeToken(in)
		if err != nil {
			var de *notionauth.TokenDecodeError
			if !errors.As(err, &de) || got != nil {
				t.Fatalf("DecodeToken(%q) = %v, %v; want nil and a *TokenDecodeError", in, got, err)
			}
			return
		}
		again, err := notionauth.EncodeToken(got)
		if err != nil {
			t.Fatalf("EncodeToken of a decoded token: %v", err)
		}
		back, err := notionauth.DecodeToken(again)
		if err != nil || back.AccessToken != got.AccessToken || !back.Obtained.Equal(got.Obtained) {
			t.Fatalf("round trip of %q: %v, %v", in, back, err)
		}
	})
}

func TestTokenOAuth2(t *testing.T) {
	t.Parallel()
	tok := testToken()
	o := tok.OAuth2()
	assert.Equal(t, testAccess, o.AccessToken)
	assert.Equal(t, testRefresh, o.RefreshToken)
	assert.Equal(t, "bearer", o.TokenType)
	assert.Equal(t, "Bearer", o.Type())
	assert.True(t, o.Expiry.IsZero(), "Notion gives no expiry")
	assert.True(t, o.Valid())
	assert.Equal(t, tok.BotID, o.Extra("bot_id"))
	assert.Equal(t, tok.WorkspaceID, o.Extra("workspace_id"))
	assert.Equal(t, "Acme", o.Extra("workspace_name"))
	assert.Equal(t, tok.DuplicatedTemplateID, o.Extra("duplicated_template_id"))
	owner, ok := o.Extra("owner").(map[string]any)
	require.True(t, ok, "owner in Notion's shape")
	assert.Equal(t, "user", owner["type"])

	back := notionauth.TokenFromOAuth2(o)
	want := tok
	want.Obtained = time.Time{}
	assert.Equal(t, want, *back)

	ws := notionauth.Token{AccessToken: testAccess, Owner: notionauth.Owner{Type: "workspace"}}
	assert.Equal(t, ws, *notionauth.TokenFromOAuth2(ws.OAuth2()))
	assert.Nil(t, o.WithExtra(nil).Extra("bot_id"))

	var nilTok *notionauth.Token
	assert.Nil(t, nilTok.OAuth2())
	assert.Nil(t, notionauth.TokenFromOAuth2(nil))
}

// TestTokenFromOAuth2Response reads a token as golang.org/x/oauth2 leaves
// it after decoding Notion's JSON response: Extra holds the decoded map.
func TestTokenFromOAuth2Response(t *testing.T) {
	t.Parallel()
	body := `{"access_token":"` + testAccess + `","token_type":"bearer","refresh_token":null,
		"bot_id":"b","workspace_id":"w","workspace_name":null,"workspace_icon":"🚀",
		"owner":{"type":"user","user":{"object":"user","id":"u","name":"Ada","avatar_url":null,
			"type":"person","person":{"email":"ada@example.com"}}},
		"duplicated_template_id":null,"request_id":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}`
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	o := (&oauth2.Token{AccessToken: testAccess, TokenType: "bearer"}).WithExtra(raw)
	got := notionauth.TokenFromOAuth2(o)
	assert.Equal(t, notionauth.Token{
		AccessToken: testAccess, TokenType: "bearer", BotID: "b", WorkspaceID: "w", WorkspaceIcon: "🚀",
		Owner: notionauth.Owner{Type: "user", UserID: "u", UserName: "Ada", UserEmail: "ada@example.com"},
	}, *got)

	// No extra at all, or extra of the wrong types: only the basics.
	plain := notionauth.TokenFromOAuth2(&oauth2.Token{AccessToken: testAccess})
	assert.Equal(t, notionauth.Token{AccessToken: testAccess}, *plain)
	odd := notionauth.TokenFromOAuth2((&oauth2.Token{AccessToken: testAccess}).WithExtra(
		map[string]any{"bot_id": 5, "owner": "user"}))
	assert.Equal(t, notionauth.Token{AccessToken: testAccess}, *odd)
}
