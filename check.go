package notionauth

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// TokenInfo is what Notion says of a token that works: the bot it belongs
// to, that bot's workspace, and who owns it.
type TokenInfo struct {
	BotID         string
	BotName       string
	WorkspaceName string // "" when Notion gives none
	// OwnerType is "workspace" for an internal connection (or a public
	// one installed for the whole workspace) and "user" for a public
	// connection a user authorized.
	OwnerType   string
	OwnerUserID string // when OwnerType is "user"
	RequestID   string
}

// CheckToken asks Notion, with one GET /v1/users/me sent through rt (nil:
// http.DefaultTransport), whether token works, and tells for sure:
//
//   - it works: the TokenInfo, and a nil error;
//   - it is gone: an *Error of Kind AuthRevoked, and only when Notion
//     itself answered 401 unauthorized (its own error shape, with a request
//     id): the answer to this very request is the confirmation a Transport
//     waits for before it believes a 401;
//   - anything else (a 429, a 5xx, an edge or gateway page, a network
//     failure, a token that cannot be sent): an *Error of that Kind,
//     never AuthRevoked: nothing is known about the token.
//
// It is for apps that cannot put a [Transport] under their client, and
// for tools (examples/tokencheck): [KindOf] on an error that came from
// elsewhere cannot tell a confirmed 401 from a doubtful one. CheckToken
// sends Notion-Version DefaultNotionVersion and retries nothing.
func CheckToken(ctx context.Context, rt http.RoundTripper, token string) (*TokenInfo, error) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	fail := func(kind Kind, msg string, err error) *Error {
		return newSecrets(token).scrubError(&Error{Kind: kind, Method: http.MethodGet, Path: probePath,
			Message: msg, Err: err})
	}
	if token == "" {
		return nil, fail(InvalidRequest, "CheckToken needs a token", nil)
	}
	if msg := tokenProblem(token); msg != "" {
		return nil, fail(InvalidRequest, msg, nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, DefaultBaseURL+probePath, nil)
	if err != nil {
		return nil, fail(InvalidRequest, "cannot make the request", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Notion-Version", DefaultNotionVersion)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		kind := Unavailable
		if ctx.Err() != nil && KindOf(ctx.Err()) == Canceled {
			kind = Canceled
		}
		return nil, fail(kind, "no response", err)
	}
	defer resp.Body.Close()
	body, rerr := readBounded(resp.Body)
	if resp.StatusCode >= 300 {
		var e *Error
		if resp.StatusCode < 400 {
			e = fail(Unavailable, "redirected: the answer did not come from Notion's API", nil)
			e.StatusCode, e.Reason = resp.StatusCode, ReasonEdge
		} else {
			e = newSecrets(token).scrubError(classify(resp.StatusCode, resp.Header, body, http.MethodGet, probePath, "", time.Now()))
			if e.Kind == AuthRevoked && e.Code != CodeUnauthorized {
				e.Kind, e.Reason = Unavailable, ReasonUnconfirmed // a 401 of another kind says nothing sure
			}
		}
		e.Attempts = 1
		return nil, e
	}
	var me struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Bot  struct {
			Owner struct {
				Type string `json:"type"`
				User struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"owner"`
			WorkspaceName string `json:"workspace_name"`
		} `json:"bot"`
		RequestID string `json:"request_id"`
	}
	if rerr != nil || json.Unmarshal(body, &me) != nil || me.ID == "" {
		e := fail(Unavailable, "the answer is not a user: "+edgeMessage(resp.Header, body), rerr)
		e.StatusCode, e.Attempts = resp.StatusCode, 1
		return nil, e
	}
	id := requestID(me.RequestID)
	if id == "" {
		id = requestID(resp.Header.Get(HeaderRequestID))
	}
	return &TokenInfo{
		BotID:         oneLine(me.ID, 64),
		BotName:       oneLine(me.Name, maxMessage),
		WorkspaceName: oneLine(me.Bot.WorkspaceName, maxMessage),
		OwnerType:     identifier(me.Bot.Owner.Type),
		OwnerUserID:   oneLine(me.Bot.Owner.User.ID, 64),
		RequestID:     id,
	}, nil
}
