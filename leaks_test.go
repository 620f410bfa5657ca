package notionauth_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
)

// leakLog collects everything printed (errors in every verb, log lines,
// Grants, the Manager, the store's file) and the secrets that must appear
// in none of it.
type leakLog struct {
	mu      sync.Mutex
	texts   []string
	secrets []string
}

func newLeakLog() *leakLog {
	l := &leakLog{}
	l.secret(oauthSecret, "CLIENTSECRET",
		base64.StdEncoding.EncodeToString([]byte(oauthClientID+":"+oauthSecret)),
		string(testStateKey), hex.EncodeToString(testStateKey))
	return l
}

// Write makes the log an io.Writer for slog handlers.
func (l *leakLog) Write(p []byte) (int, error) {
	l.add(string(p))
	return len(p), nil
}

func (l *leakLog) add(texts ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.texts = append(l.texts, texts...)
}

// secret records secrets, each in every form an echo or a print could
// give it: as is, base64 (standard and URL alphabets, padded or not),
// hex, and URL-escaped.
func (l *leakLog) secret(secrets ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		l.secrets = append(l.secrets, forms(s)...)
		// A token cut short is still a leak: its distinctive middle too.
		if len(s) > 20 && (strings.HasPrefix(s, "ntn_") || strings.HasPrefix(s, "nrt_")) {
			l.secrets = append(l.secrets, s[4:20])
		}
	}
}

// forms is s as is, base64, hex, URL-escaped and as the decimal bytes fmt
// prints for a []byte.
func forms(s string) []string {
	b := []byte(s)
	out := []string{s}
	for _, f := range []string{
		base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(s), url.PathEscape(s),
		strings.Trim(fmt.Sprint(b), "[]"), // a []byte printed by reflection: decimal bytes
	} {
		if f != s {
			out = append(out, f)
		}
	}
	return out
}

func (l *leakLog) token(tok *notionauth.Token) {
	if tok != nil {
		l.secret(tok.AccessToken, tok.RefreshToken)
	}
}

// err records err as every verb and as a log attribute prints it.
func (l *leakLog) err(err error) {
	if err == nil {
		return
	}
	l.add(err.Error(), fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err))
	var ne *notionauth.Error
	if errors.As(err, &ne) {
		l.add(fmt.Sprintf("%v|%+v|%#v", ne, ne, ne), ne.Message)
		if ne.Err != nil {
			l.add(ne.Err.Error())
		}
	}
	l.slog(err)
}

// print records v as fmt's verbs, log/slog's handlers and JSON print it.
func (l *leakLog) print(v any) {
	l.add(fmt.Sprintf("%v|%+v|%#v|%s|%q|%x", v, v, v, v, v, v))
	l.slog(v)
	if b, err := json.Marshal(v); err == nil {
		l.add(string(b))
	}
}

func (l *leakLog) slog(v any) {
	slog.New(slog.NewTextHandler(l, nil)).Info("print", "v", v)
	slog.New(slog.NewJSONHandler(l, nil)).Info("print", "v", v)
}

// check fails for every text that holds a secret, naming the secret by
// its index rather than printing it.
func (l *leakLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.NotEmpty(t, l.texts)
	for _, text := range l.texts {
		for i, s := range l.secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret #%d leaked in %q", i, strings.ReplaceAll(text, s, fmt.Sprintf("<SECRET#%d>", i)))
			}
		}
	}
	t.Logf("searched %d texts for %d secrets", len(l.texts), len(l.secrets))
}
