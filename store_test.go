package notionauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets the store tests put in grants, to look for where they must not
// appear. (The Store conformance suite is package storetest; these are
// the tests of MemoryStore's own, and of Grant.)
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

// increment is an Update fn that adds one to the counter in AccessToken.
func increment(g *Grant) (*Grant, error) {
	if g == nil {
		g = &Grant{Token: &Token{}}
	}
	n, _ := strconv.Atoi(g.Token.AccessToken)
	g.Token.AccessToken = strconv.Itoa(n + 1)
	return g, nil
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

func TestCheckKey(t *testing.T) {
	t.Parallel()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var nilCtx context.Context
	tests := []struct {
		name    string
		ctx     context.Context
		key     string
		invalid bool  // an InvalidRequest *Error
		want    error // else this error; nil: none
	}{
		{"ok", context.Background(), "ws-1", false, nil},
		{"any UTF-8", context.Background(), "user \"é\" \U0001F600", false, nil},
		{"nil context", nilCtx, "ws-1", true, nil},
		{"empty key", context.Background(), "", true, nil},
		{"not UTF-8", context.Background(), "ws-\xff", true, nil},
		{"surrogate", context.Background(), "\xed\xa0\x80", true, nil},
		{"done context", done, "ws-1", false, context.Canceled},
		{"done context wins over an empty key", done, "", false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey(tt.ctx, tt.key)
			switch {
			case tt.invalid:
				require.ErrorIs(t, err, ErrInvalidRequest)
				assert.Equal(t, InvalidRequest, KindOf(err))
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tt.key, e.Key)
			case tt.want != nil:
				require.ErrorIs(t, err, tt.want)
			default:
				require.NoError(t, err)
			}
		})
	}
}

func TestCheckList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for limit, want := range map[int]int{0: DefaultListLimit, 1: 1, 7: 7, 1000: 1000} {
		got, err := CheckList(ctx, limit)
		require.NoError(t, err)
		assert.Equal(t, want, got, "limit %d", limit)
	}
	_, err := CheckList(ctx, -1)
	require.ErrorIs(t, err, ErrInvalidRequest)
	assert.Equal(t, InvalidRequest, KindOf(err))
	assert.Contains(t, err.Error(), "-1")
	var nilCtx context.Context
	_, err = CheckList(nilCtx, 0)
	require.ErrorIs(t, err, ErrInvalidRequest)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = CheckList(done, 0)
	require.ErrorIs(t, err, context.Canceled)
}

func TestApplyUpdate(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	old := &Grant{Key: "ws-1", Token: grantToken(), Version: 4, Updated: now.Add(-time.Hour)}

	t.Run("New", func(t *testing.T) {
		g, err := ApplyUpdate("ws-1", nil, func(o *Grant) (*Grant, error) {
			assert.Nil(t, o)
			return &Grant{Token: grantToken(), Version: 99}, nil
		}, now)
		require.NoError(t, err)
		assert.Equal(t, &Grant{Key: "ws-1", Token: grantToken(), Version: 1, Updated: now}, g)
	})

	t.Run("Next", func(t *testing.T) {
		var in *Grant
		g, err := ApplyUpdate("ws-1", old, func(o *Grant) (*Grant, error) {
			assert.Equal(t, old, o)
			assert.NotSame(t, old, o, "fn must get a copy")
			assert.NotSame(t, old.Token, o.Token, "fn must get a copy of the token")
			o.Token.AccessToken = "rotated"
			in = o
			return o, nil
		}, now)
		require.NoError(t, err)
		assert.Equal(t, int64(5), g.Version)
		assert.Equal(t, now, g.Updated)
		assert.Equal(t, "rotated", g.Token.AccessToken)
		assert.NotSame(t, in, g, "the kept grant must be a copy of fn's")
		assert.NotSame(t, in.Token, g.Token)
		assert.Equal(t, testAccessToken, old.Token.AccessToken, "old must not change")
	})

	t.Run("Delete", func(t *testing.T) {
		g, err := ApplyUpdate("ws-1", old, func(*Grant) (*Grant, error) { return nil, nil }, now)
		require.NoError(t, err)
		assert.Nil(t, g)
	})

	t.Run("FnError", func(t *testing.T) {
		boom := errors.New("boom")
		g, err := ApplyUpdate("ws-1", old, func(o *Grant) (*Grant, error) { return o, boom }, now)
		assert.Same(t, boom, err)
		assert.Nil(t, g)
	})

	t.Run("Refused", func(t *testing.T) {
		called := false
		for name, tc := range map[string]struct {
			old  *Grant
			fn   func(*Grant) (*Grant, error)
			want error
		}{
			"nil fn":             {old, nil, ErrInvalidRequest},
			"other key":          {old, func(*Grant) (*Grant, error) { return &Grant{Key: "ws-2"}, nil }, ErrInvalidRequest},
			"no access token":    {nil, func(*Grant) (*Grant, error) { return &Grant{Token: &Token{RefreshToken: "r"}}, nil }, ErrInvalidRequest},
			"version limit":      {&Grant{Key: "ws-1", Version: math.MaxInt64}, func(g *Grant) (*Grant, error) { called = true; return g, nil }, ErrCorrupt},
			"version limit, nil": {&Grant{Key: "ws-1", Version: math.MaxInt64}, func(*Grant) (*Grant, error) { called = true; return nil, nil }, ErrCorrupt},
		} {
			g, err := ApplyUpdate("ws-1", tc.old, tc.fn, now)
			require.ErrorIs(t, err, tc.want, name)
			assert.Nil(t, g, name)
			assert.Equal(t, InvalidRequest, KindOf(err), name)
		}
		assert.False(t, called, "fn called for a grant at the version limit")
	})
}

// badListStore lists the keys it is given, in that order, whatever after
// is: a Store that breaks List's contract.
type badListStore struct {
	MemoryStore
	keys []string
}

func (s *badListStore) List(ctx context.Context, after string, limit int) ([]*Grant, error) {
	var page []*Grant
	for _, k := range s.keys {
		page = append(page, &Grant{Key: k, Version: 1})
	}
	return page, nil
}

func TestGrantsRefusesAStoreOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, keys := range [][]string{{"b", "a"}, {"a", "a"}, {"a", ""}} {
		s := &badListStore{keys: keys}
		var got []string
		var errs int
		for g, err := range Grants(ctx, s) {
			if err != nil {
				errs++
				continue
			}
			got = append(got, g.Key)
		}
		assert.Equal(t, 1, errs, "keys %q", keys)
		assert.Equal(t, keys[:1], got, "keys %q", keys)
	}
}
