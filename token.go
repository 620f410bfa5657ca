package notionauth

import "time"

// Token is a Notion grant: what the token endpoint returns for an
// authorization, with when it was obtained. AccessToken and RefreshToken
// are secrets.
type Token struct {
	AccessToken  string
	RefreshToken string // "" when Notion gave none
	TokenType    string // "bearer"

	BotID                string
	WorkspaceID          string
	WorkspaceName        string
	WorkspaceIcon        string
	Owner                Owner
	DuplicatedTemplateID string

	Obtained time.Time // when the token endpoint answered
}

// Owner is who authorized a grant: a user, or the whole workspace.
type Owner struct {
	Type      string // "user" or "workspace"
	UserID    string
	UserName  string
	UserEmail string
	AvatarURL string
}
