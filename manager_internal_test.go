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
	m := &Manager{OnRevoked: func(_ context.Context, key, reason string) { calls = append(calls, key+" "+reason) }}
	require.NoError(t, m.Connect(ctx, "ws", &Token{AccessToken: "ntn_new_token_after_reconnect"}))

	m.markRevoked(ctx, "ws", "ntn_old_token_found_lost", CodeUnauthorized)
	g, err := m.Grant(ctx, "ws")
	require.NoError(t, err)
	assert.True(t, g.Revoked.IsZero(), "the reconnected grant stays")
	assert.Empty(t, calls)

	m.markRevoked(ctx, "ws", "ntn_new_token_after_reconnect", CodeUnauthorized)
	m.markRevoked(ctx, "ws", "ntn_new_token_after_reconnect", CodeUnauthorized)
	g, err = m.Grant(ctx, "ws")
	require.NoError(t, err)
	assert.False(t, g.Revoked.IsZero())
	assert.Equal(t, CodeUnauthorized, g.RevokedReason)
	assert.Equal(t, []string{"ws unauthorized"}, calls, "OnRevoked once")
}
