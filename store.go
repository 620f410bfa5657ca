package notionauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
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
// ([FileStore], and the Redis and PostgreSQL stores). That is what lets a
// refresh with rotation run inside Update: Notion hands out a new refresh
// token on each refresh, so two concurrent refreshes of one grant must
// never both use the old one.
//
// Grants passed to and returned from a Store are copies: mutating them
// never changes what the Store keeps. Keys are any non-empty strings; they
// are not secrets and may appear in errors.
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
	// error unchanged. fn must not call the Store. If ctx is done before
	// the lock is held, fn is not called and Update returns ctx's error.
	Update(ctx context.Context, key string, fn func(*Grant) (*Grant, error)) (*Grant, error)

	// Delete removes the grant kept for key. Deleting an absent key is not
	// an error.
	Delete(ctx context.Context, key string) error
}

// ErrGrantNotFound is returned by [Store.Get] and [MarkRevoked] when no
// grant is kept for the key.
var ErrGrantNotFound = errors.New("notionauth: grant not found")

// errNilContext is returned instead of panicking when a nil context is
// passed to a Store.
var errNilContext = errors.New("notionauth: nil context")

// errNilUpdateFunc is returned by Update when fn is nil.
var errNilUpdateFunc = errors.New("notionauth: Update needs a non-nil fn")

// errEmptyKey is returned for the key "", which is almost surely an unset
// workspace or user id.
var errEmptyKey = errors.New("notionauth: empty grant key")

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

// clone returns a deep copy of g; nil for nil.
func (g *Grant) clone() *Grant {
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

// nextGrant is what a Store keeps when fn returned g for key over old
// (nil when absent): a copy of g with Key, Version and Updated set.
func nextGrant(key string, old, g *Grant, now time.Time) (*Grant, error) {
	if g.Key != "" && g.Key != key {
		return nil, fmt.Errorf("notionauth: Update of key %q: fn returned a grant for key %q", key, g.Key)
	}
	n := g.clone()
	n.Key = key
	n.Version = 1
	if old != nil {
		n.Version = old.Version + 1
	}
	n.Updated = now
	return n, nil
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
