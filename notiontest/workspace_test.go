package notiontest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

const dashedUUID = `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`

func TestWorkspaces(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	acme := s.NewWorkspace("Acme")
	other := s.NewWorkspace("Other")

	assert.Regexp(t, dashedUUID, s.Workspace())
	assert.Regexp(t, dashedUUID, acme)
	assert.NotEqual(t, s.Workspace(), acme)
	assert.NotEqual(t, acme, other)

	inAcme := s.NewTokenIn(acme)
	require.NotEmpty(t, inAcme)
	undashed := s.NewTokenIn(strings.ToUpper(strings.ReplaceAll(acme, "-", "")))
	require.NotEmpty(t, undashed, "an id undashed, in capitals, still names the workspace")

	tests := []struct {
		name, token, want string
	}{
		{"NewToken: the default workspace", token, s.Workspace()},
		{"NewTokenIn", inAcme, acme},
		{"NewTokenIn, undashed id", undashed, acme},
		{"NewTokenIn(Workspace())", s.NewTokenIn(s.Workspace()), s.Workspace()},
		{"another workspace", s.NewTokenIn(other), other},
		{"unknown token", "ntn_unknown", ""},
		{"no token", "", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.WorkspaceOf(tt.token), tt.name)
	}
	assert.NotEqual(t, s.BotID(inAcme), s.BotID(undashed), "each token has a bot of its own")

	assert.Empty(t, s.NewTokenIn("00000000-0000-4000-8000-000000000000"), "an unknown workspace mints nothing")
	assert.Empty(t, s.NewTokenIn(""), "an unknown workspace mints nothing")
	assert.Empty(t, s.NewTokenIn("acme"), "an unknown workspace mints nothing")

	s.RevokeToken(inAcme)
	assert.Equal(t, acme, s.WorkspaceOf(inAcme), "a revoked token keeps its workspace")
	s.AddToken("ntn_added")
	assert.Equal(t, s.Workspace(), s.WorkspaceOf("ntn_added"), "AddToken: the default workspace")
}

func TestWorkspaceUsersMe(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	tests := []struct {
		name  string
		token string
		want  any // bot.workspace_name
	}{
		{"default workspace", token, "notiontest workspace"},
		{"named workspace", s.NewTokenIn(s.NewWorkspace("Acme")), "Acme"},
		{"workspace without a name", s.NewTokenIn(s.NewWorkspace("")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, "GET", "/v1/users/me", tt.token, nil)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			me := r.json(t)
			assert.Equal(t, s.BotID(tt.token), me["id"])
			bot, _ := me["bot"].(map[string]any)
			require.Contains(t, bot, "workspace_name")
			assert.Equal(t, tt.want, bot["workspace_name"])
		})
	}
}

// Objects are not scoped to workspaces: what a token sees is what was
// shared with its bot, whatever its workspace.
func TestWorkspaceObjectsShared(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	inAcme := s.NewTokenIn(s.NewWorkspace("Acme"))
	page := s.Put(notiontest.Object{Type: notiontest.Page, Title: "Roadmap"})

	assert.Equal(t, http.StatusNotFound, do(t, s, "GET", "/v1/pages/"+page, inAcme, nil).status, "not shared yet")
	s.Share(page, inAcme)
	assert.Equal(t, http.StatusOK, do(t, s, "GET", "/v1/pages/"+page, inAcme, nil).status)
	assert.Equal(t, http.StatusNotFound, do(t, s, "GET", "/v1/pages/"+page, token, nil).status,
		"sharing is per bot, as before")
}

func TestWorkspaceRequestLog(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	acme := s.NewWorkspace("Acme")
	inAcme := s.NewTokenIn(acme)
	revoked := s.NewTokenIn(acme)
	s.RevokeToken(revoked)

	do(t, s, "GET", "/v1/users/me", inAcme, nil)
	do(t, s, "GET", "/v1/users/me", token, nil)
	do(t, s, "GET", "/v1/users/me", revoked, nil)
	do(t, s, "GET", "/v1/users/me", "ntn_unknown", nil)
	do(t, s, "GET", "/v1/users/me", "", nil)

	want := []struct {
		status    int
		workspace string
	}{
		{200, acme},
		{200, s.Workspace()},
		{401, acme}, // revoked, but still the token of a workspace
		{401, ""},
		{401, ""},
	}
	reqs := s.Requests()
	require.Len(t, reqs, len(want))
	for i, w := range want {
		assert.Equal(t, w.status, reqs[i].Status, "request %d", i)
		assert.Equal(t, w.workspace, reqs[i].Workspace, "request %d", i)
	}
}
