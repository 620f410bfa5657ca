package notionauth_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/notiontest"
)

func TestCheckToken(t *testing.T) {
	t.Parallel()
	srv := notiontest.New(t)
	ws := srv.NewWorkspace("Acme")
	good := srv.NewTokenIn(ws)
	ctx := context.Background()

	info, err := notionauth.CheckToken(ctx, srv.Transport(), good)
	require.NoError(t, err)
	assert.Equal(t, srv.BotID(good), info.BotID)
	assert.Equal(t, "Acme", info.WorkspaceName)
	assert.Equal(t, "workspace", info.OwnerType)
	assert.Equal(t, 1, srv.Count(http.MethodGet, "/v1/users/me"))

	gone := srv.NewToken()
	srv.RevokeToken(gone)
	_, err = notionauth.CheckToken(ctx, srv.Transport(), gone)
	assert.ErrorIs(t, err, notionauth.ErrAuthRevoked, "Notion's own 401 is the confirmation")

	for _, tc := range []struct {
		name  string
		fault notiontest.Fault
		kind  notionauth.Kind
	}{
		{"a gateway's 401", notiontest.Fault{Status: 401, Body: `{"error":"unauthorized"}`,
			Header: http.Header{"Content-Type": {"application/json"}}}, notionauth.Blocked},
		{"an edge page", notiontest.EdgeHTML(401), notionauth.Blocked},
		{"throttled", notiontest.RateLimited(0), notionauth.Throttled},
		{"down", notiontest.ServerError(503), notionauth.Unavailable},
		{"another 401", notiontest.Fault{Status: 401, Code: "something_new"}, notionauth.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Inject(tc.fault)
			_, err := notionauth.CheckToken(ctx, srv.Transport(), good)
			var e *notionauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.kind, e.Kind, "%v", err)
			assert.NotErrorIs(t, err, notionauth.ErrAuthRevoked, "doubt never revokes")
			assert.NotContains(t, err.Error(), good)
		})
	}

	before := len(srv.Requests())
	_, err = notionauth.CheckToken(ctx, srv.Transport(), good+"\n")
	assert.ErrorIs(t, err, notionauth.ErrInvalidRequest)
	assert.Len(t, srv.Requests(), before, "nothing sent")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = notionauth.CheckToken(ctx, &rewriteTo{host: addr, rt: http.DefaultTransport}, good)
	assert.ErrorIs(t, err, notionauth.ErrUnavailable)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = notionauth.CheckToken(cancelled, srv.Transport(), good)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Equal(t, notionauth.Canceled, notionauth.KindOf(err))
}
