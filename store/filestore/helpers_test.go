package filestore

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
)

// Secrets the tests put in grants, to look for where they must not
// appear.
const (
	testAccessToken  = "ntn_access_5ecret_6d2a"
	testRefreshToken = "nrt_refresh_5ecret_91fe"
)

// grantToken returns a Token with every field set.
func grantToken() *notionauth.Token {
	return &notionauth.Token{
		AccessToken:          testAccessToken,
		RefreshToken:         testRefreshToken,
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

// normal returns a copy of g whose times are in UTC without a monotonic
// reading, so that grants read back from a file compare equal with
// require.Equal.
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
	n, _ := strconv.Atoi(g.Token.AccessToken)
	g.Token.AccessToken = strconv.Itoa(n + 1)
	return g, nil
}
