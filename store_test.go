package notionauth

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
