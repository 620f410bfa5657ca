// Package storetest is the conformance suite for implementations of
// [notionauth.Store]: every store of this module runs it, and so can the
// app's own.
//
// # Running it on a Store of your own
//
// Call [Run] from a test, with a function that returns a new, empty store:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) notionauth.Store {
//			return mystore.New(...)
//		})
//	}
//
// The function is called once per subtest. Whatever a store needs for
// that (a database or server to reach, a fresh keyspace, table or prefix
// per call, so that subtests never see each other's grants) is the
// function's business: set it up there, and tear it down with t.Cleanup.
// The suite only calls the four methods of the Store interface, and
// [notionauth.MarkRevoked] and [notionauth.Grants] on top of them.
//
// One subtest needs a grant that no Update can make: one at Version
// math.MaxInt64, which only damage or an edit of the backend's data
// gives. Set [Suite.Put] to a function that writes a grant as it is, and
// run the [Suite] instead:
//
//	storetest.Suite{New: newStore, Put: putRaw}.Run(t)
//
// Without Put, that subtest is skipped.
//
// The suite takes a few seconds: a few hundred Updates, 50 of them
// from concurrent goroutines, and waits of tens of milliseconds for the
// cancellation tests. It needs no network of its own.
//
// # What it checks
//
// The subtests, each on a new store: GetAbsent, CreateGetUpdateDelete,
// Delete, KeysAreIndependent, StoreSetsKeyVersionUpdated, FnReturnsInvalidGrant,
// FnErrorStoresNothing, NilDeletes, Copies, MarkRevoked, RevokedKeptByUpdate,
// ConcurrentUpdates, ContextDoneWhileWaitingForLock, ContextAlreadyDone,
// BadArguments, FnPanicReleasesLock, List (Empty, Order, Paging, After,
// DefaultLimit, Revoked, Copies, Grants), VersionLimit and PrintsNoSecret.
// See [Suite.Run] for what each holds the store to.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
)

// Suite is the conformance suite for one [notionauth.Store]
// implementation. New is required; the other fields are optional.
type Suite struct {
	// New returns a new, empty store, for one subtest. It is called once
	// per subtest, on the subtest's t: a store that needs a server, a
	// database or a fresh keyspace sets them up here and removes them
	// with t.Cleanup.
	New func(t *testing.T) notionauth.Store

	// Put writes g into s as it is, Key, Version and Updated included,
	// bypassing Update, as damage or an edit of the store's data could,
	// and fails t if it cannot. nil: the VersionLimit subtest is skipped.
	Put func(t *testing.T, s notionauth.Store, g *notionauth.Grant)
}

// Run runs the suite on the stores newStore returns. It is shorthand for
// Suite{New: newStore}.Run(t).
func Run(t *testing.T, newStore func(t *testing.T) notionauth.Store) {
	t.Helper()
	Suite{New: newStore}.Run(t)
}

// Run runs the suite's subtests on t, each on a new store from s.New:
//
//   - GetAbsent: Get of a key never stored fails with an error matching
//     notionauth.ErrGrantNotFound, and a nil Grant.
//   - CreateGetUpdateDelete: fn gets nil for an absent key and the kept
//     grant after that; Update returns what it stored and Get returns the
//     same; Delete removes it; a key created again starts at Version 1.
//   - Delete: deleting an absent key, and deleting twice, is not an error;
//     Delete removes only its key.
//   - KeysAreIndependent: Updates and Deletes of one key leave the others.
//   - StoreSetsKeyVersionUpdated: whatever fn returns in Key (empty or the
//     key), Version and Updated, the store sets Key to the key, Version to
//     the old one plus one and Updated to the current time.
//   - FnReturnsInvalidGrant: a grant fn returns for another key, or with
//     a Token that has no AccessToken, is an error matching
//     notionauth.ErrInvalidRequest, and nothing is stored.
//   - FnErrorStoresNothing: fn's error is returned unchanged (the same
//     value, a typed one too) and nothing is stored, even when fn changed
//     its argument.
//   - NilDeletes: fn returning nil deletes the grant (and stores nothing
//     for an absent key).
//   - Copies: mutating what fn returned, what Update, Get and List
//     returned, or fn's argument (even when fn then fails) changes
//     nothing that the store keeps.
//   - MarkRevoked: notionauth.MarkRevoked keeps the token, records the
//     first revocation only, fails for an absent key without creating it,
//     and a zero time means now.
//   - RevokedKeptByUpdate: an Update whose fn leaves Revoked and
//     RevokedReason as it got them keeps them; one that clears them clears
//     them.
//   - ConcurrentUpdates: 50 goroutines each Update one key once,
//     incrementing a counter in the grant: fn calls never overlap, no
//     update is lost, and the Versions returned are exactly 1 to 50.
//   - ContextDoneWhileWaitingForLock: an Update or Delete waiting for a
//     key's lock, held by a running Update, returns its context's error
//     once it is cancelled, without calling fn; the lock is free after.
//   - ContextAlreadyDone: every method (and MarkRevoked) returns the
//     context's error for a context that is already done, and changes
//     nothing.
//   - BadArguments: a nil fn, an empty key, a key that is not valid
//     UTF-8, a nil context (in every method) and a negative List limit
//     are errors matching notionauth.ErrInvalidRequest, never panics, and
//     never call fn.
//   - FnPanicReleasesLock: a panic in fn propagates, and leaves the key's
//     lock free.
//   - List: an empty store lists nothing; grants come in ascending key
//     order (byte order, as Go compares strings), keys strictly after
//     after; limit bounds a page and a shorter page is the last; 0 means
//     notionauth.DefaultListLimit; revoked grants are listed with their
//     mark; notionauth.Grants pages through the whole store and can stop
//     early.
//   - VersionLimit (with Put only): a grant at Version math.MaxInt64 is
//     refused by Update with an error matching notionauth.ErrCorrupt,
//     before fn runs, rather than stored with a Version that wrapped
//     around; it can be read and deleted, and the other grants are kept.
//   - PrintsNoSecret: neither the store, holding grants, nor any Grant it
//     returns (by pointer, by value, nested) shows the tokens in it, raw,
//     base64, hex or URL-escaped, in any fmt verb (%v %+v %#v %s %q %x %X
//     %d), json.Marshal, or log/slog's text and JSON handlers.
func (s Suite) Run(t *testing.T) {
	t.Helper()
	if s.New == nil {
		t.Fatal("storetest: Suite.New is nil")
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s Suite)
	}{
		{"GetAbsent", testGetAbsent},
		{"CreateGetUpdateDelete", testCreateGetUpdateDelete},
		{"Delete", testDelete},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"StoreSetsKeyVersionUpdated", testStoreSetsKeyVersionUpdated},
		{"FnReturnsInvalidGrant", testFnReturnsInvalidGrant},
		{"FnErrorStoresNothing", testFnErrorStoresNothing},
		{"NilDeletes", testNilDeletes},
		{"Copies", testCopies},
		{"MarkRevoked", testMarkRevoked},
		{"RevokedKeptByUpdate", testRevokedKeptByUpdate},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ContextDoneWhileWaitingForLock", testContextDoneWhileWaitingForLock},
		{"ContextAlreadyDone", testContextAlreadyDone},
		{"BadArguments", testBadArguments},
		{"FnPanicReleasesLock", testFnPanicReleasesLock},
		{"List", testList},
		{"VersionLimit", testVersionLimit},
		{"PrintsNoSecret", testPrintsNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, s) })
	}
}

// The tokens the suite stores, to look for where they must not appear.
// They have no prefix that a token pattern would catch, and characters
// that URL escaping changes.
const (
	accessToken  = "STORETEST-access/0123456789+abcdef"
	refreshToken = "STORETEST-refresh/0123456789+abcdef"
)

// token returns a Token with every field set.
func token() *notionauth.Token {
	return &notionauth.Token{
		AccessToken:          accessToken,
		RefreshToken:         refreshToken,
		TokenType:            "bearer",
		BotID:                "bot-1",
		WorkspaceID:          "ws-1",
		WorkspaceName:        "Acme",
		WorkspaceIcon:        "https://example.com/icon.png",
		Owner:                notionauth.Owner{Type: "user", UserID: "u-1", UserName: "Ada", UserEmail: "ada@example.com", AvatarURL: "https://example.com/ada.png"},
		DuplicatedTemplateID: "tpl-1",
		Obtained:             time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC),
	}
}

// put stores a grant holding token() under key, and returns what Update
// returned.
func put(t *testing.T, s notionauth.Store, key string) *notionauth.Grant {
	t.Helper()
	g, err := s.Update(context.Background(), key, func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Token: token()}, nil
	})
	require.NoError(t, err, "Update(%q)", key)
	require.NotNil(t, g, "Update(%q) returned no grant", key)
	return g
}

// get returns what s keeps for key, failing t if it keeps nothing.
func get(t *testing.T, s notionauth.Store, key string) *notionauth.Grant {
	t.Helper()
	g, err := s.Get(context.Background(), key)
	require.NoError(t, err, "Get(%q)", key)
	require.NotNil(t, g, "Get(%q) returned no grant and no error", key)
	return g
}

// requireAbsent checks that s keeps nothing for key.
func requireAbsent(t *testing.T, s notionauth.Store, key string, msgAndArgs ...any) {
	t.Helper()
	g, err := s.Get(context.Background(), key)
	require.ErrorIs(t, err, notionauth.ErrGrantNotFound, msgAndArgs...)
	require.Nil(t, g, msgAndArgs...)
}

// normal returns a copy of g whose times are in UTC without a monotonic
// reading, so that grants read back from a backend compare equal.
func normal(g *notionauth.Grant) *notionauth.Grant {
	if g == nil {
		return nil
	}
	c := g.Clone()
	c.Revoked = c.Revoked.UTC().Round(0)
	c.Updated = c.Updated.UTC().Round(0)
	if c.Token != nil {
		c.Token.Obtained = c.Token.Obtained.UTC().Round(0)
	}
	return c
}

// clockSlack is how far a store's Updated may be from this process's
// clock: a backend may keep less precision, or take the time from a
// server of its own.
const clockSlack = time.Second

// requireRecent checks that the time got was taken between before and
// now, give or take clockSlack.
func requireRecent(t *testing.T, got, before time.Time, what string) {
	t.Helper()
	require.WithinRange(t, got, before.Add(-clockSlack), time.Now().Add(clockSlack), "%s must be the time of the Update", what)
}

// counter reads the counter the concurrency tests keep in AccessToken.
func counter(t *testing.T, g *notionauth.Grant) int {
	t.Helper()
	if g == nil || g.Token == nil {
		return 0
	}
	n, err := strconv.Atoi(g.Token.AccessToken)
	require.NoError(t, err, "counter in AccessToken")
	return n
}

// increment is an Update fn that adds one to the counter in AccessToken.
func increment(g *notionauth.Grant) (*notionauth.Grant, error) {
	if g == nil {
		g = &notionauth.Grant{Token: &notionauth.Token{}}
	}
	if g.Token == nil {
		g.Token = &notionauth.Token{}
	}
	n, _ := strconv.Atoi(g.Token.AccessToken)
	g.Token.AccessToken = strconv.Itoa(n + 1)
	return g, nil
}

// mustNotCall is an Update fn that fails t if it is called.
func mustNotCall(t *testing.T, why string) func(*notionauth.Grant) (*notionauth.Grant, error) {
	return func(g *notionauth.Grant) (*notionauth.Grant, error) {
		t.Errorf("fn called %s", why)
		return g, nil
	}
}

func testGetAbsent(t *testing.T, s Suite) {
	requireAbsent(t, s.New(t), "nobody", "Get of a key never stored")
}

func testCreateGetUpdateDelete(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	before := time.Now()
	var seen *notionauth.Grant
	called := false
	g, err := st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
		seen, called = old, true
		return &notionauth.Grant{Token: token()}, nil
	})
	require.NoError(t, err)
	require.True(t, called, "Update did not call fn")
	assert.Nil(t, seen, "fn must get nil for an absent key")
	require.NotNil(t, g)
	assert.Equal(t, "ws-1", g.Key)
	assert.Equal(t, int64(1), g.Version)
	requireRecent(t, g.Updated, before, "Updated")
	assert.Equal(t, token(), normal(g).Token, "the token as stored")
	assert.True(t, g.Revoked.IsZero(), "Revoked of a new grant")
	assert.Equal(t, normal(g), normal(get(t, st, "ws-1")), "Get must return what Update stored")

	g2, err := st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
		seen = normal(old)
		require.NotNil(t, old, "fn must get the kept grant")
		require.NotNil(t, old.Token, "fn must get the kept grant's token")
		old.Token.AccessToken = "STORETEST-rotated-access"
		old.Token.RefreshToken = "STORETEST-rotated-refresh"
		return old, nil
	})
	require.NoError(t, err)
	assert.Equal(t, normal(g), seen, "fn must get the kept grant")
	assert.Equal(t, int64(2), g2.Version)
	assert.Equal(t, "STORETEST-rotated-access", g2.Token.AccessToken)
	assert.Equal(t, "STORETEST-rotated-refresh", g2.Token.RefreshToken)
	assert.Equal(t, normal(g2), normal(get(t, st, "ws-1")))

	require.NoError(t, st.Delete(ctx, "ws-1"))
	requireAbsent(t, st, "ws-1", "after Delete")

	g3, err := st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
		assert.Nil(t, old, "fn must get nil after a delete")
		return &notionauth.Grant{Token: token()}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1), g3.Version, "a key created again starts at version 1")
}

func testDelete(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	require.NoError(t, st.Delete(ctx, "absent"), "deleting an absent key")
	requireAbsent(t, st, "absent", "Delete must not create a grant")

	put(t, st, "ws-1")
	put(t, st, "ws-2")
	require.NoError(t, st.Delete(ctx, "ws-1"))
	requireAbsent(t, st, "ws-1")
	require.NoError(t, st.Delete(ctx, "ws-1"), "deleting a deleted key")
	assert.Equal(t, int64(1), get(t, st, "ws-2").Version, "Delete of another key")
}

func testKeysAreIndependent(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	for _, k := range []string{"a", "b", "c"} {
		_, err := st.Update(ctx, k, func(*notionauth.Grant) (*notionauth.Grant, error) {
			return &notionauth.Grant{Token: &notionauth.Token{AccessToken: "tok-" + k}}, nil
		})
		require.NoError(t, err, k)
	}
	_, err := st.Update(ctx, "c", func(g *notionauth.Grant) (*notionauth.Grant, error) { return g, nil })
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, "b"))
	for k, want := range map[string]string{"a": "tok-a", "c": "tok-c"} {
		g := get(t, st, k)
		assert.Equal(t, want, g.Token.AccessToken, k)
	}
	assert.Equal(t, int64(1), get(t, st, "a").Version, "a")
	assert.Equal(t, int64(2), get(t, st, "c").Version, "c")
	requireAbsent(t, st, "b")
}

func testStoreSetsKeyVersionUpdated(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	for want := int64(1); want <= 4; want++ {
		key := "" // fn may leave Key empty, or set it to the key
		if want%2 == 0 {
			key = "ws-1"
		}
		before := time.Now()
		g, err := st.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
			return &notionauth.Grant{Key: key, Token: token(), Version: 99, Updated: time.Unix(0, 0)}, nil
		})
		require.NoError(t, err)
		assert.Equal(t, "ws-1", g.Key, "Key")
		assert.Equal(t, want, g.Version, "Version must be the old one plus 1, whatever fn set")
		requireRecent(t, g.Updated, before, "Updated")
		got := get(t, st, "ws-1")
		assert.Equal(t, "ws-1", got.Key, "Key as kept")
		assert.Equal(t, want, got.Version, "Version as kept")
		assert.True(t, g.Updated.Equal(got.Updated), "Updated as kept: %v, Update returned %v", got.Updated, g.Updated)
	}
}

func testFnReturnsInvalidGrant(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	_, err := st.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Key: "ws-2", Token: token()}, nil
	})
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest, "fn returned a grant for another key")
	assert.Contains(t, err.Error(), "ws-2")
	for _, k := range []string{"ws-1", "ws-2"} {
		requireAbsent(t, st, k, "key %q", k)
	}

	_, err = st.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Token: &notionauth.Token{RefreshToken: refreshToken}}, nil
	})
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest, "fn returned a token without an access token")
	requireAbsent(t, st, "ws-1", "a token without an access token")
	kept := put(t, st, "ws-1")
	_, err = st.Update(ctx, "ws-1", func(g *notionauth.Grant) (*notionauth.Grant, error) {
		g.Token.AccessToken = ""
		return g, nil
	})
	require.ErrorIs(t, err, notionauth.ErrInvalidRequest, "fn returned a token without an access token")
	assert.Equal(t, normal(kept), normal(get(t, st, "ws-1")), "a token without an access token")
	requireNoSecret(t, "the error of an Update that stores nothing", err)
}

func testFnErrorStoresNothing(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	kept := put(t, st, "ws-1")

	boom := errors.New("refresh failed")
	typed := &notionauth.Error{Kind: notionauth.AuthRevoked, Code: notionauth.CodeInvalidGrant, Message: "typed"}
	for _, fnErr := range []error{boom, typed, fmt.Errorf("wrapped: %w", context.Canceled)} {
		g, err := st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
			old.Token.AccessToken = "STORETEST-half-done"
			old.Revoked = time.Now()
			return old, fnErr
		})
		assert.Same(t, fnErr, err, "Update must return fn's error unchanged")
		assert.Nil(t, g, "Update must return no grant with fn's error")
		assert.Equal(t, normal(kept), normal(get(t, st, "ws-1")), "fn's error must store nothing")
	}

	_, err := st.Update(ctx, "absent", func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Token: token()}, boom
	})
	assert.Same(t, boom, err)
	requireAbsent(t, st, "absent", "fn's error must create nothing")
}

func testNilDeletes(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	put(t, st, "ws-1")
	g, err := st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
		require.NotNil(t, old)
		return nil, nil
	})
	require.NoError(t, err)
	assert.Nil(t, g, "Update returns nil after a delete")
	requireAbsent(t, st, "ws-1")

	g, err = st.Update(ctx, "never", func(*notionauth.Grant) (*notionauth.Grant, error) { return nil, nil })
	require.NoError(t, err)
	assert.Nil(t, g)
	requireAbsent(t, st, "never")
}

func testCopies(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	in := &notionauth.Grant{Token: token()}
	out, err := st.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) { return in, nil })
	require.NoError(t, err)
	want := normal(out)

	// What fn returned, what Update returned, what Get and List returned:
	// none of them is what the store keeps.
	in.Token.AccessToken, in.Key, in.Version = "changed", "changed", 42
	out.Token.RefreshToken, out.RevokedReason, out.Version = "changed", "changed", 42
	got := get(t, st, "ws-1")
	assert.Equal(t, want, normal(got), "after changing what fn and Update returned")
	got.Token.AccessToken, got.Token.Owner.UserEmail, got.Key = "changed", "changed", "changed"
	got.Token = nil
	assert.Equal(t, want, normal(get(t, st, "ws-1")), "after changing what Get returned")
	page, err := st.List(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, page, 1)
	page[0].Token.AccessToken, page[0].Version = "changed", 42
	page[0] = nil
	assert.Equal(t, want, normal(get(t, st, "ws-1")), "after changing what List returned")

	// fn's argument is a copy too, even when fn then fails.
	_, err = st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
		old.Token.AccessToken, old.Version = "changed", 42
		return nil, errors.New("no")
	})
	require.Error(t, err)
	assert.Equal(t, want, normal(get(t, st, "ws-1")), "after changing fn's argument")
}

func testMarkRevoked(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	g, err := notionauth.MarkRevoked(ctx, st, "absent", "invalid_grant", time.Now())
	require.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	assert.Nil(t, g)
	requireAbsent(t, st, "absent", "MarkRevoked must not create a grant")

	put(t, st, "ws-1")
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	g, err = notionauth.MarkRevoked(ctx, st, "ws-1", "invalid_grant", at)
	require.NoError(t, err)
	assert.True(t, at.Equal(g.Revoked), "Revoked = %v, want %v", g.Revoked, at)
	assert.Equal(t, "invalid_grant", g.RevokedReason)
	assert.Equal(t, token(), normal(g).Token, "MarkRevoked keeps the token")
	assert.Equal(t, int64(2), g.Version)
	assert.Equal(t, normal(g), normal(get(t, st, "ws-1")), "Get shows the mark")

	// Again: the first revocation is kept.
	g, err = notionauth.MarkRevoked(ctx, st, "ws-1", "unauthorized", at.Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, at.Equal(g.Revoked), "Revoked = %v, want the first %v", g.Revoked, at)
	assert.Equal(t, "invalid_grant", g.RevokedReason)
	assert.Equal(t, int64(3), g.Version)

	// A zero time means now.
	put(t, st, "ws-2")
	before := time.Now()
	g, err = notionauth.MarkRevoked(ctx, st, "ws-2", "unauthorized", time.Time{})
	require.NoError(t, err)
	requireRecent(t, g.Revoked, before, "Revoked with a zero time")
}

func testRevokedKeptByUpdate(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	put(t, st, "ws-1")
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	_, err := notionauth.MarkRevoked(ctx, st, "ws-1", "invalid_grant", at)
	require.NoError(t, err)

	// An Update that leaves the mark alone keeps it.
	g, err := st.Update(ctx, "ws-1", func(old *notionauth.Grant) (*notionauth.Grant, error) {
		require.NotNil(t, old)
		assert.True(t, at.Equal(old.Revoked), "fn must see the mark: Revoked = %v", old.Revoked)
		assert.Equal(t, "invalid_grant", old.RevokedReason, "fn must see the mark")
		old.Token.WorkspaceName = "Renamed"
		return old, nil
	})
	require.NoError(t, err)
	for _, g := range []*notionauth.Grant{g, get(t, st, "ws-1")} {
		assert.True(t, at.Equal(g.Revoked), "Revoked = %v, want %v", g.Revoked, at)
		assert.Equal(t, "invalid_grant", g.RevokedReason)
		assert.Equal(t, "Renamed", g.Token.WorkspaceName)
		assert.Equal(t, int64(3), g.Version)
	}

	// One that clears it (a reconnect) clears it.
	g, err = st.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Token: token()}, nil
	})
	require.NoError(t, err)
	for _, g := range []*notionauth.Grant{g, get(t, st, "ws-1")} {
		assert.True(t, g.Revoked.IsZero(), "Revoked = %v after it was cleared", g.Revoked)
		assert.Empty(t, g.RevokedReason)
	}
}

func testConcurrentUpdates(t *testing.T, s Suite) {
	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := s.New(t)
	var inside, maxInside atomic.Int32
	versions := make(chan int64, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			g, err := st.Update(ctx, "ws-1", func(g *notionauth.Grant) (*notionauth.Grant, error) {
				now := inside.Add(1)
				defer inside.Add(-1)
				for {
					m := maxInside.Load()
					if now <= m || maxInside.CompareAndSwap(m, now) {
						break
					}
				}
				time.Sleep(100 * time.Microsecond) // widen the window a lost update would need
				return increment(g)
			})
			if assert.NoError(t, err) && assert.NotNil(t, g) {
				versions <- g.Version
			}
		}()
	}
	close(start)
	wg.Wait()
	close(versions)

	assert.Equal(t, int32(1), maxInside.Load(), "fn calls of one key overlapped")
	var got []int64
	for v := range versions {
		got = append(got, v)
	}
	slices.Sort(got)
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, got, "the Versions returned must be 1 to %d, each once", n)
	g := get(t, st, "ws-1")
	assert.Equal(t, int64(n), g.Version)
	assert.Equal(t, n, counter(t, g), "an update was lost")
}

func testContextDoneWhileWaitingForLock(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	entered, release := make(chan struct{}), make(chan struct{})
	holderDone := make(chan error, 1)
	go func() {
		_, err := st.Update(ctx, "ws-1", func(g *notionauth.Grant) (*notionauth.Grant, error) {
			close(entered)
			<-release
			return increment(g)
		})
		holderDone <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first Update never called fn")
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	// waiter runs call with a context that is cancelled while call waits
	// for the lock, and returns call's error.
	waiter := func(call func(ctx context.Context) error) error {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		time.Sleep(20 * time.Millisecond) // let it wait for the lock
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled call is still waiting for the lock")
			return nil
		}
	}
	var called atomic.Bool
	err := waiter(func(ctx context.Context) error {
		_, err := st.Update(ctx, "ws-1", func(g *notionauth.Grant) (*notionauth.Grant, error) {
			called.Store(true)
			return g, nil
		})
		return err
	})
	require.ErrorIs(t, err, context.Canceled, "Update waiting for the lock")
	err = waiter(func(ctx context.Context) error { return st.Delete(ctx, "ws-1") })
	require.ErrorIs(t, err, context.Canceled, "Delete waiting for the lock")
	assert.False(t, called.Load(), "fn ran although its context was cancelled before it got the lock")

	close(release)
	released = true
	require.NoError(t, <-holderDone)
	assert.Equal(t, int64(1), get(t, st, "ws-1").Version, "only the holder stored")

	// The lock is free again.
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	g, err := st.Update(ctx2, "ws-1", increment)
	require.NoError(t, err)
	assert.Equal(t, int64(2), g.Version)
}

func testContextAlreadyDone(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	_, err := st.Update(ctx, "ws-1", increment)
	require.NoError(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()

	_, err = st.Get(done, "ws-1")
	require.ErrorIs(t, err, context.Canceled, "Get")
	_, err = st.Update(done, "ws-1", mustNotCall(t, "with a done context"))
	require.ErrorIs(t, err, context.Canceled, "Update")
	_, err = st.Update(done, "new", mustNotCall(t, "with a done context"))
	require.ErrorIs(t, err, context.Canceled, "Update of a new key")
	require.ErrorIs(t, st.Delete(done, "ws-1"), context.Canceled, "Delete")
	_, err = st.List(done, "", 0)
	require.ErrorIs(t, err, context.Canceled, "List")
	_, err = notionauth.MarkRevoked(done, st, "ws-1", "unauthorized", time.Time{})
	require.ErrorIs(t, err, context.Canceled, "MarkRevoked")
	n := 0
	for g, err := range notionauth.Grants(done, st) {
		require.ErrorIs(t, err, context.Canceled, "Grants")
		require.Nil(t, g)
		n++
	}
	assert.Equal(t, 1, n, "Grants with a done context must yield its error once")

	g := get(t, st, "ws-1")
	assert.Equal(t, int64(1), g.Version, "calls with a done context must change nothing")
	assert.True(t, g.Revoked.IsZero(), "MarkRevoked with a done context must change nothing")
	requireAbsent(t, st, "new")
}

func testBadArguments(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	put(t, st, "ws-1")
	var nilCtx context.Context
	// invalid checks that call fails with ErrInvalidRequest, without
	// panicking.
	invalid := func(what string, call func() error) {
		t.Helper()
		var err error
		require.NotPanics(t, func() { err = call() }, what)
		require.ErrorIs(t, err, notionauth.ErrInvalidRequest, what)
	}
	invalid("Update with a nil fn", func() error { _, err := st.Update(ctx, "ws-1", nil); return err })
	invalid("Update of a new key with a nil fn", func() error { _, err := st.Update(ctx, "new", nil); return err })
	for _, key := range []string{"", "ws-\xff", "\xc3", "ws-\xed\xa0\x80"} {
		q := strconv.Quote(key)
		invalid("Get "+q, func() error { _, err := st.Get(ctx, key); return err })
		invalid("Update "+q, func() error { _, err := st.Update(ctx, key, mustNotCall(t, "for key "+q)); return err })
		invalid("Delete "+q, func() error { return st.Delete(ctx, key) })
		invalid("MarkRevoked "+q, func() error {
			_, err := notionauth.MarkRevoked(ctx, st, key, "unauthorized", time.Time{})
			return err
		})
	}
	invalid("Get with a nil context", func() error { _, err := st.Get(nilCtx, "ws-1"); return err })
	invalid("Update with a nil context", func() error {
		_, err := st.Update(nilCtx, "ws-1", mustNotCall(t, "with a nil context"))
		return err
	})
	invalid("Delete with a nil context", func() error { return st.Delete(nilCtx, "ws-1") })
	invalid("List with a nil context", func() error { _, err := st.List(nilCtx, "", 0); return err })
	invalid("List with a negative limit", func() error { _, err := st.List(ctx, "", -1); return err })

	var err error
	require.NotPanics(t, func() { _, err = notionauth.MarkRevoked(ctx, nil, "ws-1", "unauthorized", time.Time{}) })
	require.Error(t, err, "MarkRevoked of a nil Store")

	g := get(t, st, "ws-1")
	assert.Equal(t, int64(1), g.Version, "bad calls must change nothing")
	assert.True(t, g.Revoked.IsZero(), "bad calls must change nothing")
	page, err := st.List(ctx, "", 0)
	require.NoError(t, err)
	assert.Len(t, page, 1, "bad calls must create nothing")
}

func testFnPanicReleasesLock(t *testing.T, s Suite) {
	ctx := context.Background()
	st := s.New(t)
	func() {
		defer func() { assert.NotNil(t, recover(), "fn's panic must reach the caller") }()
		_, _ = st.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) { panic("fn failed") })
	}()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	g, err := st.Update(ctx, "ws-1", increment)
	require.NoError(t, err, "the lock must be free after fn panicked")
	assert.Equal(t, int64(1), g.Version, "a panicking fn stores nothing")
}

func testVersionLimit(t *testing.T, s Suite) {
	if s.Put == nil {
		t.Skip("storetest: Suite.Put is nil: a grant at the version limit cannot be made")
	}
	ctx := context.Background()
	st := s.New(t)
	other := put(t, st, "ws-2")
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s.Put(t, st, &notionauth.Grant{Key: "ws-1", Token: token(), Updated: at, Version: math.MaxInt64})
	g := get(t, st, "ws-1")
	require.Equal(t, int64(math.MaxInt64), g.Version, "Put must write the Version as it is")
	want := normal(g)

	for _, tc := range []struct {
		name string
		fn   func(*notionauth.Grant) (*notionauth.Grant, error)
	}{
		{"increment", increment},
		{"delete", func(*notionauth.Grant) (*notionauth.Grant, error) { return nil, nil }},
	} {
		var called bool
		g, err := st.Update(ctx, "ws-1", func(g *notionauth.Grant) (*notionauth.Grant, error) {
			called = true
			return tc.fn(g)
		})
		require.ErrorIs(t, err, notionauth.ErrCorrupt, "Update (%s) of a grant whose version cannot grow", tc.name)
		assert.Nil(t, g)
		assert.False(t, called, "fn (%s) called for a grant whose version cannot grow", tc.name)
		assert.Equal(t, want, normal(get(t, st, "ws-1")), "the refused Update (%s) must change nothing", tc.name)
	}
	_, err := notionauth.MarkRevoked(ctx, st, "ws-1", "unauthorized", time.Time{})
	require.ErrorIs(t, err, notionauth.ErrCorrupt, "MarkRevoked of a grant whose version cannot grow")

	page, err := st.List(ctx, "", 0)
	require.NoError(t, err, "List")
	require.Len(t, page, 2)
	assert.Equal(t, want, normal(page[0]), "List")

	require.NoError(t, st.Delete(ctx, "ws-1"), "Delete of a grant whose version cannot grow")
	requireAbsent(t, st, "ws-1")
	assert.Equal(t, normal(other), normal(get(t, st, "ws-2")), "the other grant")
	g, err = st.Update(ctx, "ws-1", increment)
	require.NoError(t, err)
	assert.Equal(t, int64(1), g.Version, "created again after the Delete")
}
