package notionauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets the store tests put in grants, to look for where they must not
// appear.
const (
	testAccessToken  = "ntn_access_5ecret_6d2a"
	testRefreshToken = "nrt_refresh_5ecret_91fe"
)

// grantToken returns a Token with every field set.
func grantToken() *Token {
	return &Token{
		AccessToken:          testAccessToken,
		RefreshToken:         testRefreshToken,
		TokenType:            "bearer",
		BotID:                "bot-1",
		WorkspaceID:          "ws-1",
		WorkspaceName:        "Acme",
		WorkspaceIcon:        "https://example.com/icon.png",
		Owner:                Owner{Type: "user", UserID: "u-1", UserName: "Ada", UserEmail: "ada@example.com", AvatarURL: "https://example.com/ada.png"},
		DuplicatedTemplateID: "tpl-1",
		Obtained:             time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC),
	}
}

// normal returns a copy of g whose times are in UTC without a monotonic
// reading, so that grants read back from a file compare equal with
// require.Equal.
func normal(g *Grant) *Grant {
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

// counter reads the counter the concurrency tests keep in AccessToken.
func counter(t *testing.T, g *Grant) int {
	t.Helper()
	if g == nil || g.Token == nil {
		return 0
	}
	n, err := strconv.Atoi(g.Token.AccessToken)
	require.NoError(t, err, "counter in AccessToken")
	return n
}

// increment is an Update fn that adds one to the counter in AccessToken.
func increment(g *Grant) (*Grant, error) {
	if g == nil {
		g = &Grant{Token: &Token{}}
	}
	n, _ := strconv.Atoi(g.Token.AccessToken)
	g.Token.AccessToken = strconv.Itoa(n + 1)
	return g, nil
}

// testStore is the conformance suite every Store implementation passes.
// newStore returns a new, empty store.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("GetAbsent", func(t *testing.T) {
		s := newStore(t)
		g, err := s.Get(ctx, "nobody")
		require.ErrorIs(t, err, ErrGrantNotFound)
		assert.Nil(t, g)
	})

	t.Run("CreateGetUpdateDelete", func(t *testing.T) {
		s := newStore(t)
		before := time.Now()
		var seen *Grant
		g, err := s.Update(ctx, "ws-1", func(old *Grant) (*Grant, error) {
			seen = old
			return &Grant{Token: grantToken()}, nil
		})
		require.NoError(t, err)
		assert.Nil(t, seen, "fn must get nil for an absent key")
		require.NotNil(t, g)
		assert.Equal(t, "ws-1", g.Key)
		assert.Equal(t, int64(1), g.Version)
		assert.WithinRange(t, g.Updated, before, time.Now())
		assert.Equal(t, grantToken(), normal(g).Token)

		got, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, normal(g), normal(got))

		g2, err := s.Update(ctx, "ws-1", func(old *Grant) (*Grant, error) {
			seen = normal(old)
			old.Token.AccessToken = "ntn_rotated"
			old.Token.RefreshToken = "nrt_rotated"
			return old, nil
		})
		require.NoError(t, err)
		assert.Equal(t, normal(g), seen, "fn must get the kept grant")
		assert.Equal(t, int64(2), g2.Version)
		assert.Equal(t, "ntn_rotated", g2.Token.AccessToken)
		got, err = s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, normal(g2), normal(got))

		require.NoError(t, s.Delete(ctx, "ws-1"))
		_, err = s.Get(ctx, "ws-1")
		require.ErrorIs(t, err, ErrGrantNotFound)
		require.NoError(t, s.Delete(ctx, "ws-1"), "deleting an absent key")

		g3, err := s.Update(ctx, "ws-1", func(old *Grant) (*Grant, error) {
			assert.Nil(t, old, "fn must get nil after a delete")
			return &Grant{Token: grantToken()}, nil
		})
		require.NoError(t, err)
		assert.Equal(t, int64(1), g3.Version, "a key created again starts at version 1")
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"a", "b", "c"} {
			_, err := s.Update(ctx, k, func(*Grant) (*Grant, error) {
				return &Grant{Token: &Token{AccessToken: "tok-" + k}}, nil
			})
			require.NoError(t, err)
		}
		require.NoError(t, s.Delete(ctx, "b"))
		for k, want := range map[string]string{"a": "tok-a", "c": "tok-c"} {
			g, err := s.Get(ctx, k)
			require.NoError(t, err, k)
			assert.Equal(t, want, g.Token.AccessToken, k)
			assert.Equal(t, int64(1), g.Version, k)
		}
		_, err := s.Get(ctx, "b")
		require.ErrorIs(t, err, ErrGrantNotFound)
	})

	t.Run("FnErrorStoresNothing", func(t *testing.T) {
		s := newStore(t)
		kept, err := s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) { return &Grant{Token: grantToken()}, nil })
		require.NoError(t, err)

		boom := errors.New("refresh failed")
		g, err := s.Update(ctx, "ws-1", func(old *Grant) (*Grant, error) {
			old.Token.AccessToken = "ntn_half_done"
			old.Revoked = time.Now()
			return old, boom
		})
		assert.Same(t, boom, err, "Update must return fn's error unchanged")
		assert.Nil(t, g)
		got, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, normal(kept), normal(got))

		_, err = s.Update(ctx, "absent", func(*Grant) (*Grant, error) { return &Grant{}, boom })
		assert.Same(t, boom, err)
		_, err = s.Get(ctx, "absent")
		require.ErrorIs(t, err, ErrGrantNotFound)
	})

	t.Run("NilDeletes", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) { return &Grant{Token: grantToken()}, nil })
		require.NoError(t, err)
		g, err := s.Update(ctx, "ws-1", func(old *Grant) (*Grant, error) {
			require.NotNil(t, old)
			return nil, nil
		})
		require.NoError(t, err)
		assert.Nil(t, g)
		_, err = s.Get(ctx, "ws-1")
		require.ErrorIs(t, err, ErrGrantNotFound)

		g, err = s.Update(ctx, "never", func(*Grant) (*Grant, error) { return nil, nil })
		require.NoError(t, err)
		assert.Nil(t, g)
		_, err = s.Get(ctx, "never")
		require.ErrorIs(t, err, ErrGrantNotFound)
	})

	t.Run("StoreSetsKeyVersionUpdated", func(t *testing.T) {
		s := newStore(t)
		for want := int64(1); want <= 3; want++ {
			before := time.Now()
			g, err := s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) {
				return &Grant{Version: 99, Updated: time.Unix(0, 0)}, nil
			})
			require.NoError(t, err)
			assert.Equal(t, "ws-1", g.Key)
			assert.Equal(t, want, g.Version, "Version must be the old one plus 1, whatever fn set")
			assert.WithinRange(t, g.Updated, before, time.Now())
			got, err := s.Get(ctx, "ws-1")
			require.NoError(t, err)
			assert.Equal(t, want, got.Version)
			assert.Nil(t, got.Token)
		}
	})

	t.Run("FnReturnsOtherKey", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) { return &Grant{Key: "ws-2"}, nil })
		require.Error(t, err)
		assert.Contains(t, err.Error(), "ws-2")
		for _, k := range []string{"ws-1", "ws-2"} {
			_, err = s.Get(ctx, k)
			require.ErrorIs(t, err, ErrGrantNotFound, k)
		}
	})

	t.Run("CopiesAreNotAliased", func(t *testing.T) {
		s := newStore(t)
		in := &Grant{Token: grantToken()}
		out, err := s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) { return in, nil })
		require.NoError(t, err)
		want := normal(out)

		// What fn returned, what Update returned, what Get returned: none
		// of them is what the store keeps.
		in.Token.AccessToken, in.Key, in.Version = "changed", "changed", 42
		out.Token.RefreshToken, out.RevokedReason, out.Version = "changed", "changed", 42
		got, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, want, normal(got))
		got.Token.AccessToken, got.Token.Owner.UserEmail = "changed", "changed"
		got.Token = nil
		got2, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, want, normal(got2))

		// fn's argument is a copy too, even when fn then fails.
		_, err = s.Update(ctx, "ws-1", func(old *Grant) (*Grant, error) {
			old.Token.AccessToken, old.Version = "changed", 42
			return nil, errors.New("no")
		})
		require.Error(t, err)
		got3, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, want, normal(got3))
	})

	t.Run("MarkRevoked", func(t *testing.T) {
		s := newStore(t)
		g, err := MarkRevoked(ctx, s, "absent", "invalid_grant", time.Now())
		require.ErrorIs(t, err, ErrGrantNotFound)
		assert.Nil(t, g)
		_, err = s.Get(ctx, "absent")
		require.ErrorIs(t, err, ErrGrantNotFound, "MarkRevoked must not create a grant")

		_, err = s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) { return &Grant{Token: grantToken()}, nil })
		require.NoError(t, err)
		at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		g, err = MarkRevoked(ctx, s, "ws-1", "invalid_grant", at)
		require.NoError(t, err)
		assert.True(t, at.Equal(g.Revoked), "Revoked = %v, want %v", g.Revoked, at)
		assert.Equal(t, "invalid_grant", g.RevokedReason)
		assert.Equal(t, grantToken(), normal(g).Token, "MarkRevoked keeps the token")
		assert.Equal(t, int64(2), g.Version)
		got, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, normal(g), normal(got))

		// Again: the first revocation is kept.
		g, err = MarkRevoked(ctx, s, "ws-1", "unauthorized", at.Add(time.Hour))
		require.NoError(t, err)
		assert.True(t, at.Equal(g.Revoked), "Revoked = %v, want the first %v", g.Revoked, at)
		assert.Equal(t, "invalid_grant", g.RevokedReason)

		// A zero time means now.
		_, err = s.Update(ctx, "ws-2", func(*Grant) (*Grant, error) { return &Grant{Token: grantToken()}, nil })
		require.NoError(t, err)
		before := time.Now()
		g, err = MarkRevoked(ctx, s, "ws-2", "unauthorized", time.Time{})
		require.NoError(t, err)
		assert.WithinRange(t, g.Revoked, before, time.Now())
	})

	t.Run("ConcurrentUpdatesAreSerialised", func(t *testing.T) {
		s := newStore(t)
		const n = 50
		var inside, maxInside atomic.Int32
		versions := make(chan int64, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, err := s.Update(ctx, "ws-1", func(g *Grant) (*Grant, error) {
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
				if assert.NoError(t, err) {
					versions <- g.Version
				}
			}()
		}
		wg.Wait()
		close(versions)

		assert.Equal(t, int32(1), maxInside.Load(), "fn calls of one key overlapped")
		seen := map[int64]bool{}
		for v := range versions {
			assert.False(t, seen[v], "version %d returned twice", v)
			seen[v] = true
		}
		assert.Len(t, seen, n)
		g, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, int64(n), g.Version)
		assert.Equal(t, n, counter(t, g), "an update was lost")
	})

	t.Run("ContextDoneWhileWaitingForLock", func(t *testing.T) {
		s := newStore(t)
		entered, release := make(chan struct{}), make(chan struct{})
		holderDone := make(chan error, 1)
		go func() {
			_, err := s.Update(ctx, "ws-1", func(g *Grant) (*Grant, error) {
				close(entered)
				<-release
				return increment(g)
			})
			holderDone <- err
		}()
		<-entered

		waiter := func(run func(ctx context.Context) error) error {
			ctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- run(ctx) }()
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
			_, err := s.Update(ctx, "ws-1", func(g *Grant) (*Grant, error) { called.Store(true); return g, nil })
			return err
		})
		require.ErrorIs(t, err, context.Canceled)
		err = waiter(func(ctx context.Context) error { return s.Delete(ctx, "ws-1") })
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, called.Load(), "fn ran although its context was cancelled before it got the lock")

		close(release)
		require.NoError(t, <-holderDone)
		g, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, int64(1), g.Version, "only the holder stored")

		// The lock is free again.
		ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		g, err = s.Update(ctx2, "ws-1", increment)
		require.NoError(t, err)
		assert.Equal(t, int64(2), g.Version)
	})

	t.Run("ContextAlreadyDone", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Update(ctx, "ws-1", increment)
		require.NoError(t, err)
		done, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.Get(done, "ws-1")
		require.ErrorIs(t, err, context.Canceled)
		_, err = s.Update(done, "ws-1", func(*Grant) (*Grant, error) {
			t.Error("fn called with a done context")
			return nil, nil
		})
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, s.Delete(done, "ws-1"), context.Canceled)
		_, err = MarkRevoked(done, s, "ws-1", "unauthorized", time.Time{})
		require.ErrorIs(t, err, context.Canceled)
		g, err := s.Get(ctx, "ws-1")
		require.NoError(t, err)
		assert.Equal(t, int64(1), g.Version)
	})

	t.Run("BadArguments", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Update(ctx, "ws-1", nil)
		require.Error(t, err, "nil fn")
		_, err = s.Update(ctx, "", increment)
		require.Error(t, err, "empty key")
		_, err = s.Get(ctx, "")
		require.Error(t, err, "empty key")
		require.Error(t, s.Delete(ctx, ""), "empty key")
		var nilCtx context.Context
		_, err = s.Get(nilCtx, "ws-1")
		require.Error(t, err, "nil context")
		_, err = s.Update(nilCtx, "ws-1", increment)
		require.Error(t, err, "nil context")
		_, err = MarkRevoked(ctx, nil, "ws-1", "unauthorized", time.Time{})
		require.Error(t, err, "nil store")
	})

	t.Run("FnPanicReleasesLock", func(t *testing.T) {
		s := newStore(t)
		func() {
			defer func() { assert.NotNil(t, recover()) }()
			_, _ = s.Update(ctx, "ws-1", func(*Grant) (*Grant, error) { panic("fn failed") })
		}()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		g, err := s.Update(ctx, "ws-1", increment)
		require.NoError(t, err, "the lock must be free after fn panicked")
		assert.Equal(t, int64(1), g.Version)
	})
}

func TestMemoryStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return new(MemoryStore) })
}

func TestMemoryStoreUpdatesOfOtherKeysDoNotWait(t *testing.T) {
	var s MemoryStore
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = s.Update(ctx, "slow", func(g *Grant) (*Grant, error) {
			close(entered)
			<-release
			return increment(g)
		})
	}()
	<-entered
	defer close(release)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := s.Update(ctx, "fast", increment)
	require.NoError(t, err)
	_, err = s.Get(ctx, "fast")
	require.NoError(t, err)
}

func TestMemoryStoreForgetsIdleLocks(t *testing.T) {
	var s MemoryStore
	ctx := context.Background()
	for i := range 100 {
		_, err := s.Update(ctx, fmt.Sprint("k", i), increment)
		require.NoError(t, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Empty(t, s.locks, "locks of keys with no Update running")
	assert.Len(t, s.grants, 100)
}

func TestGrantPrintsNoSecret(t *testing.T) {
	g := Grant{
		Key:           "ws-1",
		Token:         grantToken(),
		Revoked:       time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		RevokedReason: "invalid_grant",
		Updated:       time.Date(2025, 6, 1, 12, 0, 1, 0, time.UTC),
		Version:       7,
	}
	type wrapper struct {
		G Grant
		P *Grant
	}
	values := []any{g, &g, wrapper{g, &g}, []*Grant{&g}, map[string]Grant{"k": g}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range values {
			out := fmt.Sprintf(verb, v)
			for _, secret := range []string{testAccessToken, testRefreshToken, fmt.Sprintf("%x", testAccessToken), fmt.Sprintf("%x", testRefreshToken)} {
				assert.NotContains(t, out, secret, "fmt %s of %T", verb, v)
			}
		}
	}
	s := g.String()
	for _, want := range []string{`"ws-1"`, "Version: 7", "2025-06-01T12:00:00Z", `"invalid_grant"`, "[redacted]"} {
		assert.Contains(t, s, want)
	}
	assert.Equal(t, s, g.GoString())
	assert.Equal(t, s, fmt.Sprintf("%+v", &g))
	assert.Contains(t, Grant{Key: "k"}.String(), "Revoked: no")
	assert.Contains(t, Grant{Key: "k"}.String(), "Token: nil")
	var nilGrant *Grant
	assert.NotPanics(t, func() { _ = fmt.Sprint(nilGrant) })
	assert.True(t, strings.HasPrefix(s, "notionauth.Grant{"), s)
}
