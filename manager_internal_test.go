package notionauth

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A probe that confirms an old token lost must not revoke the grant a
// reconnect stored meanwhile.
func TestMarkRevokedOnlyTheTokenFoundLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls []string
	m := &Manager{OnAuthRevoked: func(_ context.Context, e *Error) { calls = append(calls, e.Key+" "+e.Code) }}
	lost := &Error{Kind: AuthRevoked, StatusCode: 401, Code: CodeUnauthorized}
	require.NoError(t, m.Connect(ctx, "ws", &Token{AccessToken: "ntn_new_token_after_reconnect"}))

	m.markRevoked(ctx, "ws", "ntn_old_token_found_lost", lost)
	g, err := m.Grant(ctx, "ws")
	require.NoError(t, err)
	assert.True(t, g.Revoked.IsZero(), "the reconnected grant stays")
	assert.Empty(t, calls)

	m.markRevoked(ctx, "ws", "ntn_new_token_after_reconnect", lost)
	m.markRevoked(ctx, "ws", "ntn_new_token_after_reconnect", lost)
	g, err = m.Grant(ctx, "ws")
	require.NoError(t, err)
	assert.False(t, g.Revoked.IsZero())
	assert.Equal(t, CodeUnauthorized, g.RevokedReason)
	assert.Equal(t, []string{"ws unauthorized"}, calls, "OnAuthRevoked once")
}
