package notionauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Token is a Notion grant: what the token endpoint returns for an
// authorization, with when it was obtained. AccessToken and RefreshToken
// are secrets.
//
// A Token never shows its secrets by accident: every fmt verb (%v, %+v,
// %#v, %s, %q, ...), [Token.LogValue] for log/slog and [Token.MarshalJSON]
// print "[redacted]" in their place (or "" when there is none). To store a
// Token, use [EncodeToken] and [DecodeToken], the one path that keeps them.
type Token struct {
	AccessToken  string
	RefreshToken string // "" when Notion gave none
	TokenType    string // "bearer"

	BotID                string
	WorkspaceID          string
	WorkspaceName        string
	WorkspaceIcon        string
	Owner                Owner
	DuplicatedTemplateID string

	Obtained time.Time // when the token endpoint answered
}

// Owner is who authorized a grant: a user, or the whole workspace.
type Owner struct {
	Type      string // "user" or "workspace"
	UserID    string
	UserName  string
	UserEmail string
	AvatarURL string
}

// String describes t on one line, secrets redacted:
//
//	notionauth.Token{AccessToken:[redacted], RefreshToken:[redacted], TokenType:bearer, BotID:..., ...}
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("notionauth.Token{AccessToken:")
	b.WriteString(redact(t.AccessToken))
	b.WriteString(", RefreshToken:")
	b.WriteString(redact(t.RefreshToken))
	for _, f := range [...]struct{ name, value string }{
		{"TokenType", t.TokenType},
		{"BotID", t.BotID},
		{"WorkspaceID", t.WorkspaceID},
		{"WorkspaceName", t.WorkspaceName},
		{"WorkspaceIcon", t.WorkspaceIcon},
		{"DuplicatedTemplateID", t.DuplicatedTemplateID},
	} {
		b.WriteString(", ")
		b.WriteString(f.name)
		b.WriteByte(':')
		b.WriteString(oneLine(f.value, maxMessage))
	}
	b.WriteString(", Owner:")
	b.WriteString(t.Owner.String())
	b.WriteString(", Obtained:")
	b.WriteString(formatTime(t.Obtained))
	b.WriteByte('}')
	return b.String()
}

// GoString is t in Go syntax, as %#v prints it, secrets redacted.
func (t Token) GoString() string {
	return fmt.Sprintf("notionauth.Token{AccessToken:%q, RefreshToken:%q, TokenType:%q, BotID:%q, "+
		"WorkspaceID:%q, WorkspaceName:%q, WorkspaceIcon:%q, Owner:%#v, DuplicatedTemplateID:%q, Obtained:%s}",
		redact(t.AccessToken), redact(t.RefreshToken), t.TokenType, t.BotID, t.WorkspaceID,
		t.WorkspaceName, t.WorkspaceIcon, t.Owner, t.DuplicatedTemplateID, goTime(t.Obtained))
}

// Format makes every fmt verb safe: %v, %+v and %s print [Token.String],
// %#v prints [Token.GoString], %q the quoted String, and any other verb
// (%x, %d, ...) only the type's name, never the fields.
func (t Token) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, "notionauth.Token", t.String, t.GoString)
}

// LogValue makes log/slog print t as a group of its fields, secrets
// redacted, whatever the handler.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redact(t.AccessToken)),
		slog.String("refresh_token", redact(t.RefreshToken)),
		slog.String("token_type", t.TokenType),
		slog.String("bot_id", t.BotID),
		slog.String("workspace_id", t.WorkspaceID),
		slog.String("workspace_name", t.WorkspaceName),
		slog.String("owner_type", t.Owner.Type),
		slog.String("owner_user_id", t.Owner.UserID),
		slog.Time("obtained", t.Obtained),
	)
}

// MarshalJSON encodes t with its secrets redacted, so that a Token that
// ends up in a JSON log or API response gives nothing away. It is not a
// storage format: [Token.UnmarshalJSON] refuses its output. Store tokens
// with [EncodeToken].
func (t Token) MarshalJSON() ([]byte, error) {
	j := toJSON(&t)
	j.Version = 0
	j.AccessToken, j.RefreshToken = redact(t.AccessToken), redact(t.RefreshToken)
	return json.Marshal(j)
}

// UnmarshalJSON decodes the output of [EncodeToken] (with or without its
// version) into t. It fails with a *[TokenDecodeError] on JSON that
// [Token.MarshalJSON] redacted, rather than yield a Token without secrets.
func (t *Token) UnmarshalJSON(b []byte) error {
	tok, err := decodeToken(b, false)
	if err != nil {
		return err
	}
	*t = *tok
	return nil
}

// String describes o on one line: its type and, for a user, the user's id
// and name.
func (o Owner) String() string {
	if o.Type != "user" && o.UserID == "" {
		return oneLine(o.Type, 64)
	}
	s := oneLine(o.Type, 64) + " " + oneLine(o.UserID, 64)
	if o.UserName != "" {
		s += " (" + oneLine(o.UserName, 128) + ")"
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return t.Format(time.RFC3339Nano)
}

func goTime(t time.Time) string {
	if t.IsZero() {
		return "time.Time{}"
	}
	return strconv.Quote(t.Format(time.RFC3339Nano))
}

// tokenVersion is the version of [EncodeToken]'s format.
const tokenVersion = 1

// tokenJSON is a Token's JSON form: EncodeToken's with Version set and the
// secrets kept, MarshalJSON's without Version and with the secrets
// redacted. Every field is always present.
type tokenJSON struct {
	Version              int       `json:"v,omitempty"`
	AccessToken          string    `json:"access_token"`
	RefreshToken         string    `json:"refresh_token"`
	TokenType            string    `json:"token_type"`
	BotID                string    `json:"bot_id"`
	WorkspaceID          string    `json:"workspace_id"`
	WorkspaceName        string    `json:"workspace_name"`
	WorkspaceIcon        string    `json:"workspace_icon"`
	Owner                ownerJSON `json:"owner"`
	DuplicatedTemplateID string    `json:"duplicated_template_id"`
	Obtained             time.Time `json:"obtained"`
}

type ownerJSON struct {
	Type      string `json:"type"`
	UserID    string `json:"user_id"`
	UserName  string `json:"user_name"`
	UserEmail string `json:"user_email"`
	AvatarURL string `json:"avatar_url"`
}

func toJSON(t *Token) tokenJSON {
	return tokenJSON{
		Version:              tokenVersion,
		AccessToken:          t.AccessToken,
		RefreshToken:         t.RefreshToken,
		TokenType:            t.TokenType,
		BotID:                t.BotID,
		WorkspaceID:          t.WorkspaceID,
		WorkspaceName:        t.WorkspaceName,
		WorkspaceIcon:        t.WorkspaceIcon,
		Owner:                ownerJSON(t.Owner),
		DuplicatedTemplateID: t.DuplicatedTemplateID,
		Obtained:             t.Obtained,
	}
}

// EncodeToken encodes every field of t, secrets included, for storage: a
// JSON object with a format version ("v":1) that [DecodeToken] reads back.
// The bytes hold the secrets in the clear: encrypt them at rest if the
// store does not. It fails for a nil Token or one without an access token.
func EncodeToken(t *Token) ([]byte, error) {
	if t == nil {
		return nil, &TokenDecodeError{Reason: "nil token"}
	}
	if t.AccessToken == "" {
		return nil, &TokenDecodeError{Reason: "no access token"}
	}
	return json.Marshal(toJSON(t))
}

// DecodeToken decodes what [EncodeToken] encoded. Anything else (not JSON,
// data after it, a field EncodeToken does not write, another version, no
// access token, the redacted output of [Token.MarshalJSON]) fails with a
// *[TokenDecodeError]; it never panics. A field name that damage or an
// edit made unknown would otherwise lose that field silently; a field
// added later comes with a new format version. A version newer than this
// release reads is a TokenDecodeError that also matches
// [ErrUnsupportedFormat].
func DecodeToken(b []byte) (*Token, error) {
	return decodeToken(b, true)
}

// decodeToken decodes b; strict requires EncodeToken's version, an access
// token and no field EncodeToken does not write.
func decodeToken(b []byte, strict bool) (*Token, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, &TokenDecodeError{Reason: "empty input"}
	}
	var j tokenJSON
	var err error
	if strict {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&j); err == nil {
			if _, end := dec.Token(); end != io.EOF {
				return nil, &TokenDecodeError{Reason: "not a token object: data after it"}
			}
		}
	} else {
		err = json.Unmarshal(b, &j)
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			// DisallowUnknownFields' error has no type of its own. The
			// name is left out: damage can make anything a name.
			return nil, &TokenDecodeError{Reason: "unknown field"}
		}
		return nil, &TokenDecodeError{Reason: "not a token object", Err: safeJSONError(err)}
	}
	if j.AccessToken == redacted || j.RefreshToken == redacted {
		return nil, &TokenDecodeError{Reason: "secrets are redacted (made by MarshalJSON; store tokens with EncodeToken)"}
	}
	switch {
	case j.Version == tokenVersion:
	case j.Version == 0 && !strict:
	case j.Version == 0:
		return nil, &TokenDecodeError{Reason: "no format version"}
	case j.Version > tokenVersion:
		return nil, &TokenDecodeError{Reason: "unsupported format version " + strconv.Itoa(j.Version), Err: ErrUnsupportedFormat}
	default:
		return nil, &TokenDecodeError{Reason: "unknown format version " + strconv.Itoa(j.Version)}
	}
	if strict && j.AccessToken == "" {
		return nil, &TokenDecodeError{Reason: "no access token"}
	}
	return j.token(), nil
}

func (j *tokenJSON) token() *Token {
	return &Token{
		AccessToken:          j.AccessToken,
		RefreshToken:         j.RefreshToken,
		TokenType:            j.TokenType,
		BotID:                j.BotID,
		WorkspaceID:          j.WorkspaceID,
		WorkspaceName:        j.WorkspaceName,
		WorkspaceIcon:        j.WorkspaceIcon,
		Owner:                Owner(j.Owner),
		DuplicatedTemplateID: j.DuplicatedTemplateID,
		Obtained:             j.Obtained,
	}
}

// safeJSONError keeps a JSON decoding error's description but drops what
// could quote the input: a time's parse error (*time.ParseError) quotes
// the value, a syntax error does not.
func safeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return errTokenField
}

var errTokenField = errors.New("a field has an invalid value")

// TokenDecodeError reports bytes that [DecodeToken] (or
// [Token.UnmarshalJSON]) cannot read as a Token, or a Token that
// [EncodeToken] cannot encode. It never quotes the input.
type TokenDecodeError struct {
	Reason string // what is wrong, such as "unsupported format version 2"
	Err    error  // the JSON decoder's error, if any; ErrUnsupportedFormat for a newer format version
}

// Error returns "notionauth: cannot decode token: " and the reason.
func (e *TokenDecodeError) Error() string {
	s := "notionauth: cannot decode token: " + e.Reason
	if e.Err != nil {
		s += ": " + oneLine(strings.TrimPrefix(e.Err.Error(), "notionauth: "), maxMessage)
	}
	return s
}

// Unwrap returns the JSON decoder's error, if any.
func (e *TokenDecodeError) Unwrap() error { return e.Err }

// OAuth2 converts t for golang.org/x/oauth2 (oauth2.StaticTokenSource, a
// [Transport]'s Source): AccessToken, RefreshToken and TokenType, with no
// expiry since Notion gives none. The Notion fields travel in Extra under
// the names of Notion's token response (bot_id, workspace_id,
// workspace_name, workspace_icon, owner, duplicated_template_id), owner in
// Notion's shape; [TokenFromOAuth2] reads them back. Obtained is not
// carried. A nil t gives nil.
//
// The result is golang.org/x/oauth2's own type, which prints both tokens
// in the clear in every fmt verb and in JSON: never log it. Log the Token
// instead, which redacts them.
func (t *Token) OAuth2() *oauth2.Token {
	if t == nil {
		return nil
	}
	o := &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType}
	extra := map[string]any{
		"bot_id":                 t.BotID,
		"workspace_id":           t.WorkspaceID,
		"workspace_name":         nullable(t.WorkspaceName),
		"workspace_icon":         nullable(t.WorkspaceIcon),
		"duplicated_template_id": nullable(t.DuplicatedTemplateID),
	}
	if t.Owner != (Owner{}) {
		extra["owner"] = t.Owner.wire()
	}
	return o.WithExtra(extra)
}

// nullable is s, or nil (JSON's null) when s is empty, as Notion answers.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// wire is o in the shape of Notion's token response.
func (o Owner) wire() map[string]any {
	if o.Type == "workspace" {
		return map[string]any{"type": "workspace", "workspace": true}
	}
	user := map[string]any{"object": "user", "id": o.UserID, "name": nullable(o.UserName),
		"avatar_url": nullable(o.AvatarURL)}
	if o.UserEmail != "" {
		user["type"] = "person"
		user["person"] = map[string]any{"email": o.UserEmail}
	}
	return map[string]any{"type": o.Type, "user": user}
}

// TokenFromOAuth2 converts a golang.org/x/oauth2 token back into a Token:
// AccessToken, RefreshToken and TokenType, and the Notion fields found in
// its Extra (bot_id, workspace_id, workspace_name, workspace_icon, owner in
// Notion's shape, duplicated_template_id), as [Token.OAuth2] or
// oauth2.Config.Exchange leave them. Missing or mistyped fields stay
// empty. Obtained is left zero. A nil o gives nil.
func TokenFromOAuth2(o *oauth2.Token) *Token {
	if o == nil {
		return nil
	}
	str := func(key string) string {
		s, _ := o.Extra(key).(string)
		return s
	}
	t := &Token{
		AccessToken:          o.AccessToken,
		RefreshToken:         o.RefreshToken,
		TokenType:            o.TokenType,
		BotID:                str("bot_id"),
		WorkspaceID:          str("workspace_id"),
		WorkspaceName:        str("workspace_name"),
		WorkspaceIcon:        str("workspace_icon"),
		DuplicatedTemplateID: str("duplicated_template_id"),
	}
	switch v := o.Extra("owner").(type) {
	case map[string]any:
		t.Owner = ownerFromWire(v)
	case Owner:
		t.Owner = v
	case *Owner:
		if v != nil {
			t.Owner = *v
		}
	}
	return t
}

// ownerFromWire reads Notion's owner object, decoded into maps:
// {"type":"user","user":{"id","name","avatar_url","person":{"email"}}} or
// {"type":"workspace","workspace":true}.
func ownerFromWire(m map[string]any) Owner {
	str := func(m map[string]any, key string) string {
		s, _ := m[key].(string)
		return s
	}
	o := Owner{Type: str(m, "type")}
	if user, ok := m["user"].(map[string]any); ok {
		o.UserID, o.UserName, o.AvatarURL = str(user, "id"), str(user, "name"), str(user, "avatar_url")
		if person, ok := user["person"].(map[string]any); ok {
			o.UserEmail = str(person, "email")
		}
	}
	return o
}
