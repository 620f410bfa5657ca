package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
)

// secretForms returns the ways a printer could show secret: as it is,
// URL-escaped, JSON-escaped, in base64 (both alphabets, padded or not), in
// hex (either case), and as the decimal bytes fmt prints for a []byte.
func secretForms(secret string) []string {
	b := []byte(secret)
	quoted, _ := json.Marshal(secret)
	return []string{
		secret, url.QueryEscape(secret), url.PathEscape(secret), string(quoted[1 : len(quoted)-1]),
		base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		strings.Trim(fmt.Sprint(b), "[]"),
	}
}

// printVerbs are the fmt verbs every value is printed with.
var printVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"}

// printer is one way an app might print a value.
type printer struct {
	name  string
	print func(v any) string
}

// printers print v in every way an app might: each fmt verb, json.Marshal,
// and log/slog's text and JSON handlers (as an attribute and in a group).
// A printer that fails (json.Marshal of a type it cannot encode) prints
// its error, which is searched too.
func printers() []printer {
	var p []printer
	for _, verb := range printVerbs {
		p = append(p, printer{"fmt " + verb, func(v any) string { return fmt.Sprintf(verb, v) }})
	}
	return append(p,
		printer{"json.Marshal", func(v any) string {
			b, err := json.Marshal(v)
			if err != nil {
				return err.Error()
			}
			return string(b)
		}},
		printer{"slog text", func(v any) string {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("print", "v", v, slog.Group("g", "v", v))
			return buf.String()
		}},
		printer{"slog JSON", func(v any) string {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("print", "v", v, slog.Group("g", "v", v))
			return buf.String()
		}},
	)
}

// requireNoSecret prints v (described by what) every way printers do,
// and fails t if any output holds a form of the suite's tokens.
func requireNoSecret(t *testing.T, what string, v any) {
	t.Helper()
	var forms []string
	for _, s := range []string{accessToken, refreshToken} {
		forms = append(forms, secretForms(s)...)
	}
	for _, p := range printers() {
		var out string
		require.NotPanics(t, func() { out = p.print(v) }, "%s of %s", p.name, what)
		for _, form := range forms {
			if i := strings.Index(out, form); i >= 0 {
				from, to := max(i-100, 0), min(i+len(form)+100, len(out))
				t.Errorf("%s of %s shows a token (as %q): ...%s...", p.name, what, form, out[from:to])
				break
			}
		}
	}
}

func testPrintsNoSecret(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	var grants []*notionauth.Grant
	grants = append(grants, put(t, st, "ws-1"), get(t, st, "ws-1"))
	g, err := notionauth.MarkRevoked(ctx, st, "ws-1", "invalid_grant", time.Time{})
	require.NoError(t, err)
	grants = append(grants, g, put(t, st, "ws-2"))
	page, err := st.List(ctx, "", 0)
	require.NoError(t, err)
	grants = append(grants, page...)
	for g, err := range notionauth.Grants(ctx, st) {
		require.NoError(t, err)
		grants = append(grants, g)
	}

	// The store holds both grants now, one of them revoked.
	requireNoSecret(t, "the store", st)
	requireNoSecret(t, "a struct holding the store", struct{ Store notionauth.Store }{st})
	for i, g := range grants {
		requireNoSecret(t, fmt.Sprintf("grant %d (%s)", i, g.Key), g)
		requireNoSecret(t, fmt.Sprintf("grant %d by value", i), *g)
		requireNoSecret(t, fmt.Sprintf("grant %d nested", i), struct {
			G notionauth.Grant
			P *notionauth.Grant
		}{*g, g})
		requireNoSecret(t, fmt.Sprintf("grant %d in a map", i), map[string]notionauth.Grant{g.Key: *g})
	}
	requireNoSecret(t, "a page of List", page)
}
