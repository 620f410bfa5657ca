package notionauth

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Grant is what a [Store] keeps for one key: the app's own name for a
// connection, such as a workspace or a user of the app.
//
// Token holds secrets. Grant's String, GoString and Format never print the
// Token, so a Grant can be logged safely.
type Grant struct {
	Key   string // the app's key for this grant; a Store sets it
	Token *Token // the current token pair; nil when none is kept

	// Revoked is when the grant was found revoked (a confirmed 401, or an
	// invalid_grant from the token endpoint); zero: not revoked. The Token
	// is kept so that the app can still show which workspace it was.
	Revoked       time.Time
	RevokedReason string // why it was revoked, e.g. "invalid_grant" or "unauthorized"; never a secret

	// Updated and Version are set by the Store on every Update, whatever fn
	// returned in them. Version starts at 1 and grows by one on every
	// Update, so a reader that remembers it can tell that someone else
	// (another goroutine or process) rotated the token in between. A key
	// that is deleted and created again starts over at 1.
	Updated time.Time
	Version int64
}

// Store keeps grants, one per key.
//
// Implementations are safe for concurrent use. Update is an atomic
// read-modify-write serialised per key: no two Updates of one key run
// their fn at the same time, across processes too for shared backends
// (such as the file store in package
// [github.com/notionauth/notionauth/store/filestore]). That is what lets a
// refresh with rotation run inside Update: Notion hands out a new refresh
// token on each refresh, so two concurrent refreshes of one grant must
// never both use the old one.
//
// Grants passed to and returned from a Store are copies: mutating them
// never changes what the Store keeps. Keys are non-empty strings of valid
// UTF-8; they are not secrets and may appear in errors. A nil context, an
// empty key or one that is not valid UTF-8, a nil fn and a negative limit
// are errors matching [ErrInvalidRequest], never panics.
//
// Writing a Store: [CheckKey], [CheckList] and [ApplyUpdate] make the
// checks and the bookkeeping every Store shares, and
// [github.com/notionauth/notionauth/storetest] is the conformance suite
// that every Store runs, this module's and the app's own.
type Store interface {
	// Get returns a copy of the grant kept for key, or an error matching
	// ErrGrantNotFound when there is none.
	Get(ctx context.Context, key string) (*Grant, error)

	// Update calls fn with a copy of the grant kept for key (nil when there
	// is none) while holding the key's lock, and stores what fn returns: a
	// non-nil grant replaces the kept one, with Key set to key, Version set
	// to the old Version+1 and Updated to the current time; nil deletes it.
	// Update returns a copy of what it stored (nil after a delete).
	//
	// If fn returns an error, nothing is stored and Update returns that
	// error unchanged. A grant for another key, or with a Token that has
	// no AccessToken, is not stored either: Update returns an error
	// matching ErrInvalidRequest. fn must not call the Store. If ctx is
	// done before the lock is held, fn is not called and Update returns
	// ctx's error. A kept grant whose Version is math.MaxInt64 cannot be
	// updated: Update returns an error matching ErrCorrupt without
	// calling fn (see [ApplyUpdate]); Delete still removes it.
	Update(ctx context.Context, key string, fn func(*Grant) (*Grant, error)) (*Grant, error)

	// Delete removes the grant kept for key. Deleting an absent key is not
	// an error.
	Delete(ctx context.Context, key string) error

	// List returns up to limit grants ([DefaultListLimit] when limit is
	// 0), those whose keys sort after after, in ascending order of their
	// keys as Go compares strings (byte by byte). after is "" for the
	// first page and the last key of the previous page for the next one;
	// a page shorter than limit is the last. The grants are copies, as Get
	// returns them, revoked ones included. Grants created or deleted
	// while a caller pages through may or may not be seen. [Grants] pages
	// through a whole store.
	List(ctx context.Context, after string, limit int) ([]*Grant, error)
}

// DefaultListLimit is how many grants [Store.List] returns at most when
// its limit is 0.
const DefaultListLimit = 100

// ErrGrantNotFound is returned by [Store.Get] and [MarkRevoked] when no
// grant is kept for the key.
var ErrGrantNotFound = errors.New("notionauth: grant not found")

// Errors about a store's data, returned wrapped in a *[StoreError]; match
// them with errors.Is.
var (
	// ErrWrongKey: the data is encrypted but cannot be decrypted with the
	// key given. AES-GCM cannot tell a wrong key from altered ciphertext,
	// so this is also what damage inside the encrypted part gives.
	ErrWrongKey = errors.New("notionauth: cannot decrypt: wrong key or damaged file")

	// ErrCorrupt: the data is damaged or truncated. The store refuses to
	// read it, and to write over it, rather than act as an empty store.
	ErrCorrupt = errors.New("notionauth: store data is damaged or truncated")

	// ErrKeyRequired: the data is encrypted but no key was given.
	ErrKeyRequired = errors.New("notionauth: store data is encrypted but no key was given")

	// ErrNotEncrypted: a key was given but the data is plaintext. To
	// encrypt a plaintext store, read it with a store that has no key and
	// write its grants to a new one that has.
	ErrNotEncrypted = errors.New("notionauth: store data is plaintext but a key was given")

	// ErrUnsupportedFormat: the data has a format version this library
	// does not know, such as one written by a newer release.
	ErrUnsupportedFormat = errors.New("notionauth: store data has an unsupported format version")
)

// StoreError is a failure of a store's backend: its data cannot be read,
// decrypted or written. Err is the cause: one of ErrWrongKey, ErrCorrupt,
// ErrKeyRequired, ErrNotEncrypted, ErrUnsupportedFormat (possibly wrapped
// with detail), a *[KeySizeError], or an error from the operating system
// such as an *fs.PathError. Error() never contains a secret.
type StoreError struct {
	Op   string // "get", "update", "delete" or "list"
	Key  string // the grant's key; "" for "list"
	Path string // where the store keeps its data, such as a file store's file
	Err  error
}

// Error describes e on one line, such as
//
//	notionauth: store /var/lib/app/grants: get "ws-1": cannot decrypt: wrong key or damaged file
func (e *StoreError) Error() string {
	cause := "<nil>"
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "notionauth: ")
	}
	op := e.Op
	if e.Key != "" || op != "list" {
		op += " " + strconv.Quote(e.Key)
	}
	return "notionauth: store " + e.Path + ": " + op + ": " + cause
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }

// KeySizeError is returned when a store's encryption key is neither nil
// (no encryption) nor 32 bytes long. Its value is the length that was
// given.
type KeySizeError int

func (k KeySizeError) Error() string {
	return "notionauth: store encryption key is " + strconv.Itoa(int(k)) +
		" bytes long; want 32 (AES-256-GCM) or nil (no encryption)"
}

// CheckKey makes the checks every [Store] makes first, in Get, Update and
// Delete, before it touches its backend: it returns an *[Error] of Kind
// [InvalidRequest] for a nil ctx or a key that is empty (almost surely an
// unset workspace or user id) or not valid UTF-8, ctx's error when ctx is
// already done, and nil otherwise.
func CheckKey(ctx context.Context, key string) error {
	if ctx == nil {
		return storeArgError(key, "nil context")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case key == "":
		return storeArgError(key, "empty grant key")
	case !utf8.ValidString(key):
		return storeArgError(key, "grant key is not valid UTF-8")
	}
	return nil
}

// CheckList makes the checks every [Store] makes first in List: it returns
// the limit to use (limit, or [DefaultListLimit] for 0), or an *[Error] of
// Kind [InvalidRequest] for a nil ctx or a negative limit, or ctx's error
// when ctx is already done.
func CheckList(ctx context.Context, limit int) (int, error) {
	if ctx == nil {
		return 0, storeArgError("", "nil context")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	switch {
	case limit < 0:
		return 0, storeArgError("", "List limit "+strconv.Itoa(limit)+" is negative")
	case limit == 0:
		return DefaultListLimit, nil
	}
	return limit, nil
}

// storeArgError is a Store's answer to a caller's mistake.
func storeArgError(key, msg string) error {
	return &Error{Kind: InvalidRequest, Key: key, Message: msg}
}

// ApplyUpdate is what every [Store] does inside Update, for store authors.
// The store calls it holding key's lock, with old the grant it keeps for
// key (nil when there is none). ApplyUpdate calls fn with a copy of old and
// returns the grant the store must now keep: nil to delete it, else a copy
// of what fn returned with Key set to key, Version to old's plus one (1
// for a new grant) and Updated to now. The store keeps that grant, and
// returns a [Grant.Clone] of it from Update.
//
// fn's error is returned unchanged, and the store then keeps what it had.
// ApplyUpdate's own errors: an *[Error] of Kind [InvalidRequest] for a nil
// fn, for a grant fn returned for another key, and for one whose Token has
// no AccessToken (which [EncodeToken] could not store); and, when old's Version
// is math.MaxInt64, an error matching [ErrCorrupt], without calling fn: no
// store counts that far (only damage or an edit does), a Version that
// wrapped around would no longer tell readers that the grant changed, and
// fn could rotate a token whose successor could then not be stored. Such a
// grant can still be deleted, which is why Delete does not go through
// ApplyUpdate.
func ApplyUpdate(key string, old *Grant, fn func(*Grant) (*Grant, error), now time.Time) (*Grant, error) {
	if fn == nil {
		return nil, storeArgError(key, "Update needs a non-nil fn")
	}
	version := int64(1)
	if old != nil {
		if old.Version == math.MaxInt64 {
			return nil, fmt.Errorf("%w: grant %q: version %d cannot grow", ErrCorrupt, key, old.Version)
		}
		version = old.Version + 1
	}
	g, err := fn(old.Clone())
	if err != nil || g == nil {
		return nil, err
	}
	if g.Key != "" && g.Key != key {
		return nil, storeArgError(key, fmt.Sprintf("Update of key %q: fn returned a grant for key %q", key, g.Key))
	}
	if g.Token != nil && g.Token.AccessToken == "" {
		return nil, storeArgError(key, fmt.Sprintf("Update of key %q: fn returned a token without an access token", key))
	}
	n := g.Clone()
	n.Key, n.Version, n.Updated = key, version, now
	return n, nil
}

// Grants returns every grant of s in ascending order of their keys, read
// page by page with [Store.List]. An error ends the sequence: it is
// yielded with a nil Grant. Stopping early is fine. Like List, it holds no
// lock across pages.
func Grants(ctx context.Context, s Store) iter.Seq2[*Grant, error] {
	return func(yield func(*Grant, error) bool) {
		if s == nil {
			yield(nil, errors.New("notionauth: Grants needs a non-nil Store"))
			return
		}
		for after := ""; ; {
			page, err := s.List(ctx, after, DefaultListLimit)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, g := range page {
				// A Store that broke List's order would make this loop
				// forever, or yield a grant twice.
				if g == nil || g.Key <= after {
					yield(nil, fmt.Errorf("notionauth: Grants: the Store's List returned keys out of order after %q", after))
					return
				}
				after = g.Key
				if !yield(g, nil) {
					return
				}
			}
			if len(page) < DefaultListLimit {
				return
			}
		}
	}
}

// MarkRevoked records in s that the grant kept for key was revoked at at
// (the current time when at is zero) for reason, such as "invalid_grant"
// or "unauthorized". It keeps the Token. A grant that is already revoked
// keeps its first Revoked time and RevokedReason (but is still written,
// so its Version grows). MarkRevoked returns the stored grant, or an error
// matching ErrGrantNotFound when no grant is kept for key.
func MarkRevoked(ctx context.Context, s Store, key, reason string, at time.Time) (*Grant, error) {
	if s == nil {
		return nil, errors.New("notionauth: MarkRevoked needs a non-nil Store")
	}
	if at.IsZero() {
		at = time.Now()
	}
	return s.Update(ctx, key, func(g *Grant) (*Grant, error) {
		if g == nil {
			return nil, ErrGrantNotFound
		}
		if g.Revoked.IsZero() {
			g.Revoked = at
			g.RevokedReason = reason
		}
		return g, nil
	})
}

// Clone returns a deep copy of g, nil for nil: what a [Store] hands out
// and keeps, so that the caller's copy and the store's never alias.
func (g *Grant) Clone() *Grant {
	if g == nil {
		return nil
	}
	c := *g
	if g.Token != nil {
		t := *g.Token // Token holds only values: a struct copy is a deep copy
		c.Token = &t
	}
	return &c
}

// String describes g without any secret: its key, version, revocation and
// whether it holds a token.
func (g Grant) String() string {
	b := make([]byte, 0, 128)
	b = append(b, "notionauth.Grant{Key: "...)
	b = strconv.AppendQuote(b, g.Key)
	b = append(b, ", Version: "...)
	b = strconv.AppendInt(b, g.Version, 10)
	if g.Revoked.IsZero() {
		b = append(b, ", Revoked: no"...)
	} else {
		b = append(b, ", Revoked: "...)
		b = g.Revoked.AppendFormat(b, time.RFC3339)
		b = append(b, ", RevokedReason: "...)
		b = strconv.AppendQuote(b, g.RevokedReason)
	}
	if !g.Updated.IsZero() {
		b = append(b, ", Updated: "...)
		b = g.Updated.AppendFormat(b, time.RFC3339)
	}
	if g.Token == nil {
		b = append(b, ", Token: nil}"...)
	} else {
		b = append(b, ", Token: [redacted]}"...)
	}
	return string(b)
}

// GoString is String, so that %#v prints no secret either.
func (g Grant) GoString() string { return g.String() }

// Format prints g as String does for every verb, so that no verb (%v,
// %+v, %#v, %s, %d, %x, ...) can print the Token's secrets.
func (g Grant) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(g.String())) }
