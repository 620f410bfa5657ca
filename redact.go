package notionauth

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Keeping secrets out of everything printable: errors, logs, events and
// every fmt verb. Secrets are redacted where they are held (Token, Config,
// Grant, the stores print none) and scrubbed from whatever the wire brings
// back: a proxy or gateway between the app and Notion may echo anything.

// redacted stands in for a secret in anything printable.
const redacted = "[redacted]"

// redact returns what is printed in place of the secret s: "" when there
// is none, else [redacted].
func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// oneLine makes s safe to quote in a one-line message: control characters
// become spaces, anything that looks like a Notion token is redacted, and it
// is cut to at most max bytes on a rune boundary.
func oneLine(s string, max int) string {
	s = redactTokens(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// tokenPrefixes are the prefixes of Notion's secrets: internal connection
// secrets, newer tokens, OAuth access tokens.
var tokenPrefixes = [...]string{"secret_", "ntn_", "nrt_"}

// redactTokens replaces anything that looks like a Notion token with
// "[redacted]". Messages come from the server and from the network stack;
// this is a last line of defence, not a reason to put tokens there.
func redactTokens(s string) string {
	for _, p := range tokenPrefixes {
		if !strings.Contains(s, p) {
			continue
		}
		// One pass into a builder: splicing s in place for each token
		// would be quadratic on a long message full of tokens.
		var b strings.Builder
		b.Grow(len(s))
		for rest := s; ; {
			i := strings.Index(rest, p)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			j := i + len(p)
			for j < len(rest) && isTokenByte(rest[j]) {
				j++
			}
			if j-i-len(p) < 8 { // too short to be a secret
				b.WriteString(rest[:j])
			} else {
				b.WriteString(rest[:i])
				b.WriteString("[redacted]")
			}
			rest = rest[j:]
		}
		s = b.String()
	}
	return s
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// identifier returns s when it looks like one of Notion's codes or
// reasons (letters, digits, '_', '.', '-', at most 64 bytes) and holds no
// token, and "" otherwise: an error's Code and Reason come from the wire.
func identifier(s string) string {
	if len(s) > 64 || redactTokens(s) != s {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isTokenByte(c) && c != '.' {
			return ""
		}
	}
	return s
}

// requestID returns s, dashed and in lower case, when it is a request id
// as Notion makes them (a UUID), and "" otherwise: a proxy that echoes what
// it was sent could put anything there.
func requestID(s string) string {
	id, _ := parseID(strings.TrimSpace(s))
	return id
}

// minSecret is the shortest value scrubbed as a secret: shorter ones would
// redact ordinary words.
const minSecret = 6

// secrets are the exact values a call must never let out, in every form
// an echo may give them back: as sent, URL-escaped, in a JSON string,
// base64 (standard and URL alphabets, padded or not) and hex. The zero
// value scrubs nothing.
type secrets []string

// newSecrets returns the forms of values, longest first, so that a padded
// base64 is replaced before the same text without its padding.
func newSecrets(values ...string) secrets {
	var s secrets
	for _, v := range values {
		if len(v) < minSecret {
			continue
		}
		b := []byte(v)
		quoted, _ := json.Marshal(v) // always a string, so never fails
		for _, form := range [...]string{
			v, url.QueryEscape(v), url.PathEscape(v), string(quoted[1 : len(quoted)-1]),
			base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
			base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
			hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		} {
			if !slices.Contains(s, form) {
				s = append(s, form)
			}
		}
		// Inside a longer text encoded whole (a proxy that echoes the
		// request body in base64), v starts one or two bytes into a group
		// of three: the characters that encode v alone then differ.
		for shift := 1; shift <= 2; shift++ {
			in := append(make([]byte, shift), b...)
			for _, enc := range [...]*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				e := enc.EncodeToString(in)
				start, end := shift+1, len(e) // the first characters hold the bytes before v
				if len(in)%3 != 0 {
					end-- // the last one holds the bytes after it
				}
				if form := e[start:end]; len(form) >= minSecret && !slices.Contains(s, form) {
					s = append(s, form)
				}
			}
		}
	}
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	return s
}

// scrub replaces every form of every secret in str with [redacted].
func (s secrets) scrub(str string) string {
	for _, form := range s {
		if strings.Contains(str, form) {
			str = strings.ReplaceAll(str, form, redacted)
		}
	}
	return str
}

// scrubError removes the secrets from e's text fields and from its
// cause's message: the last line of defence against a server or proxy that
// echoes what it was sent. It returns e.
func (s secrets) scrubError(e *Error) *Error {
	if len(s) == 0 || e == nil {
		return e
	}
	e.Message = s.scrub(e.Message)
	e.Code = s.scrub(e.Code)
	e.Reason = s.scrub(e.Reason)
	e.RequestID = s.scrub(e.RequestID)
	if e.Err != nil {
		if msg := e.Err.Error(); s.scrub(msg) != msg {
			e.Err = &scrubbedError{msg: s.scrub(msg), err: e.Err}
		}
	}
	return e
}

// scrubbedError is an error whose message had a secret removed. It still
// unwraps to the original, for errors.Is and errors.As: what the app digs
// out of the chain itself is the app's to print.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// SecretKey is key material: a store's encryption key, a state key. It
// prints as [redacted] (or "" when empty) in every fmt verb, in log/slog and
// in JSON, whether it is printed by value, by pointer or nested in a struct
// of the app's, which a []byte field would not do. Its value is the bytes
// themselves: a []byte converts to it and back.
type SecretKey []byte

// String returns [redacted], or "" for an empty key.
func (k SecretKey) String() string {
	if len(k) == 0 {
		return ""
	}
	return redacted
}

// GoString is String, so that %#v is as safe.
func (k SecretKey) GoString() string { return k.String() }

// Format prints String for every verb, so that neither %x nor %d prints
// the bytes.
func (k SecretKey) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, k.String()) }

// MarshalJSON encodes String.
func (k SecretKey) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(k.String())), nil }

// LogValue makes log/slog print String.
func (k SecretKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// formatSafe writes, for verb, str (%v, %+v, %s), goStr (%#v) or str
// quoted (%q), honouring width, precision and flags as for a string; any
// other verb prints %!verb(typeName). The field values never reach fmt's
// reflection, which is what would print the secrets.
func formatSafe(f fmt.State, verb rune, typeName string, str, goStr func() string) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = io.WriteString(f, goStr())
			return
		}
		fmt.Fprintf(f, fmt.FormatString(f, 's'), str())
	case 's', 'q':
		fmt.Fprintf(f, fmt.FormatString(f, verb), str())
	default:
		_, _ = io.WriteString(f, "%!"+string(verb)+"("+typeName+")")
	}
}
