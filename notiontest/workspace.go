package notiontest

// workspace is one Notion workspace of the fake. Every bot, and so every
// token, belongs to exactly one. Its fields never change.
type workspace struct {
	id   string
	name string // "": none (workspace_name null)
}

// defaultWorkspaceName is the name of a Server's default workspace.
const defaultWorkspaceName = "notiontest workspace"

// nameJSON is the workspace's name as Notion's answers carry it: a string,
// or null when it has none.
func (w *workspace) nameJSON() any {
	if w.name == "" {
		return nil
	}
	return w.name
}

// Workspace returns the id of the server's default workspace: the workspace
// of every token minted by [Server.NewToken] or registered by
// [Server.AddToken], and of OAuth grants that name no other (see
// [Server.NewAuthCode]). It is named "notiontest workspace".
func (s *Server) Workspace() string {
	return s.workspace.id
}

// NewWorkspace adds a workspace named name and returns its id, a dashed
// UUID. Mint tokens in it with [Server.NewTokenIn] and authorize OAuth
// grants into it with [Server.NewAuthCodeIn] or the authorize page's
// workspace_id parameter. An empty name is sent as workspace_name null, as
// Notion allows. Names need not be unique.
func (s *Server) NewWorkspace(name string) string {
	w := &workspace{id: newUUID(), name: name}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workspaces[w.id] = w
	return w.id
}

// WorkspaceOf returns the id of token's workspace: the one it was minted or
// authorized in, revoked or not. It returns "" for a token the server has
// never seen. A token only shared with ([Server.Share]) or asked about
// ([Server.BotID]) before it was added belongs to the default workspace, as
// [Server.AddToken] will register it.
func (s *Server) WorkspaceOf(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workspaceOfLocked(token)
}

func (s *Server) workspaceOfLocked(token string) string {
	if ti := s.tokens[token]; token != "" && ti != nil {
		return ti.bot.ws.id
	}
	return ""
}

// workspaceLocked returns the workspace with id (dashed or not), or nil.
func (s *Server) workspaceLocked(id string) *workspace {
	id, ok := normalizeID(id)
	if !ok {
		return nil
	}
	return s.workspaces[id]
}
