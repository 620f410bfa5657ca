package notionauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jomei/notionapi"
	"golang.org/x/oauth2"
)

// Kind says what a failed Notion call means for the app. Each Kind asks for
// a different reaction, which is the point of telling them apart: only
// [AuthRevoked] should ever send a user back through OAuth.
type Kind int

const (
	// Unclassified is the Kind of a nil error, a success, or an error
	// notionauth does not recognise.
	Unclassified Kind = iota
	// AuthRevoked: the token is gone (the connection was removed, the grant
	// revoked or replaced). Run OAuth again. The Transport reports it only
	// once Notion has confirmed it; see [Transport].
	AuthRevoked
	// Throttled: Notion asked to slow down (429 rate_limited, 529). Wait
	// [Error.RetryAfter]; the token is fine.
	Throttled
	// PermissionLost: Notion refused access (403 restricted_resource, 404
	// object_not_found). Usually one object is no longer reachable: it was
	// deleted or is no longer shared with the connection, and
	// [Error.ObjectID] names it. [Error.Reason] tells the other cases
	// apart: [ReasonMissingCapability] (the connection's capabilities do
	// not allow the endpoint; sharing again will not help) and
	// [ReasonBlockLimit] (the workspace hit its block limit). The token is
	// fine.
	PermissionLost
	// Blocked: Notion or its edge refused the request outright (429
	// public_api_request_blocked, a Cloudflare 401/403 page). Retrying will
	// not help; the token is fine.
	Blocked
	// InvalidRequest: the request itself is wrong (validation_error,
	// invalid_json, invalid_client, a property the database does not
	// have, ...), or the app's setup is (a grant never connected, a
	// store's key; see [KindOf]). Fix it; never retry it as is.
	InvalidRequest
	// Conflict: 409 conflict_error, a data collision. Retry later.
	Conflict
	// Unavailable: Notion is failing (5xx, gateway pages) or could not be
	// reached (network errors), or a [Store]'s backend failed. Retry
	// later.
	Unavailable
	// Canceled: the app cancelled the call's context. There is nothing to
	// retry and nothing wrong with the token or the request. The Error
	// unwraps to context.Canceled, so errors.Is(err, context.Canceled)
	// holds; no ErrX sentinel matches it.
	Canceled
)

var kindNames = [...]string{
	Unclassified:   "unclassified",
	AuthRevoked:    "auth revoked",
	Throttled:      "throttled",
	PermissionLost: "permission lost",
	Blocked:        "blocked",
	InvalidRequest: "invalid request",
	Conflict:       "conflict",
	Unavailable:    "unavailable",
	Canceled:       "canceled",
}

// String returns the Kind's name in lower case, such as "auth revoked".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Sentinels matched by [Error.Is]: errors.Is(err, ErrThrottled) reports
// whether err is an *[Error] of Kind [Throttled], however deeply it is wrapped
// (by net/http's *url.Error, by fmt.Errorf("%w"), ...). Each Kind has one,
// except [Unclassified] and [Canceled] (match the latter with
// errors.Is(err, context.Canceled)).
var (
	ErrAuthRevoked    = errors.New("notionauth: auth revoked")
	ErrThrottled      = errors.New("notionauth: throttled")
	ErrPermissionLost = errors.New("notionauth: permission lost")
	ErrBlocked        = errors.New("notionauth: blocked")
	ErrInvalidRequest = errors.New("notionauth: invalid request")
	ErrConflict       = errors.New("notionauth: conflict")
	ErrUnavailable    = errors.New("notionauth: unavailable")
)

// sentinels holds each Kind's sentinel; nil for Unclassified and Canceled.
var sentinels = [...]error{
	Unclassified:   nil,
	AuthRevoked:    ErrAuthRevoked,
	Throttled:      ErrThrottled,
	PermissionLost: ErrPermissionLost,
	Blocked:        ErrBlocked,
	InvalidRequest: ErrInvalidRequest,
	Conflict:       ErrConflict,
	Unavailable:    ErrUnavailable,
	Canceled:       nil,
}

// Values of [Error.Reason].
const (
	// Values of Notion's additional_data.rate_limit_reason on a 429.
	ReasonRequestRateLimit  = "public_api_request_rate_limit"       // this connection's budget
	ReasonSpaceRateLimit    = "public_api_space_request_rate_limit" // the workspace's budget
	ReasonEndpointRateLimit = "public_api_endpoint_rate_limit"      // this endpoint's budget
	ReasonRequestBlocked    = "public_api_request_blocked"          // not throttling: Kind Blocked

	// ReasonBlockLimit marks a 403 that says the Free workspace is over its
	// block limit. Notion does not publish the exact shape of that answer;
	// notionauth looks for "block limit" in the message and additional_data.
	// It wins over ReasonMissingCapability.
	ReasonBlockLimit = "block_limit"
	// ReasonMissingCapability marks a 403 restricted_resource about the
	// connection, not a page: its capabilities, set in Notion's integration
	// settings (read content, insert content, read comments, user
	// information, ...), do not allow this endpoint. Sharing the page again
	// will not help; ObjectID is empty. Notion says so only in the message
	// ("Insufficient permissions for this endpoint."), so notionauth looks
	// for "insufficient permissions" or "capabilit", in any case, in the
	// message of a 403; "API token does not have access to this resource."
	// is about sharing and keeps ObjectID.
	ReasonMissingCapability = "missing_capability"
	// ReasonEdge marks a response that did not come from Notion's API: an
	// HTML or other non-JSON page, a Cloudflare answer (cf-ray) without a
	// Notion request id, or a 401 without both Notion's error shape
	// ("object":"error") and a request id (an app's own proxy or gateway).
	// Such a response is never AuthRevoked and never PermissionLost.
	ReasonEdge = "edge"
	// ReasonUnconfirmed marks a 401 that the Transport could not confirm:
	// its probe of the token failed for another reason (network, 5xx, 429).
	ReasonUnconfirmed = "unconfirmed"
	// ReasonTokenValid marks a 401 although the probe showed the token
	// works: Notion answered 401 for this call only.
	ReasonTokenValid = "token_valid"
	// ReasonRefreshed marks the error of a call that met a 401, got a new
	// token from its Refresher, and could not send again (no attempt
	// left): the next call uses the new token.
	ReasonRefreshed = "refreshed"
	// ReasonRemembered marks an AuthRevoked error for a token the
	// Transport already knew to be revoked: nothing was sent.
	ReasonRemembered = "remembered"
	// ReasonNoToken marks a 401 for a request that carried no bearer token.
	ReasonNoToken = "no_token"
	// ReasonMaybeCommitted marks a 503 whose additional_data
	// (retry_guidance, committed_resource_id) says the write may have been
	// applied: it is never repeated. ObjectID names the committed resource
	// when Notion does.
	ReasonMaybeCommitted = "may_be_committed"
	// ReasonPaced marks a Throttled error the Transport returned without
	// sending: the token's pause (or budget) would have made the call wait
	// longer than RetryPolicy.MaxWait or its context allows. RetryAfter is
	// the expected wait.
	ReasonPaced = "paced"
)

// Notion's error codes, as found in [Error.Code]. The token endpoint's
// OAuth-style "error" field lands in Code too.
const (
	CodeUnauthorized         = "unauthorized"
	CodeRestrictedResource   = "restricted_resource"
	CodeObjectNotFound       = "object_not_found"
	CodeRateLimited          = "rate_limited"
	CodeConflict             = "conflict_error"
	CodeValidation           = "validation_error"
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidRequestURL    = "invalid_request_url"
	CodeInvalidRequest       = "invalid_request"
	CodeMissingVersion       = "missing_version"
	CodeInternalServerError  = "internal_server_error"
	CodeBadGateway           = "bad_gateway"
	CodeServiceUnavailable   = "service_unavailable"
	CodeDatabaseUnavailable  = "database_connection_unavailable"
	CodeGatewayTimeout       = "gateway_timeout"
	CodeServiceOverload      = "service_overload"
	CodeInvalidGrant         = "invalid_grant"
	CodeInvalidClient        = "invalid_client"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeUnsupportedGrantType = "unsupported_grant_type"
)

// Header names notionauth reads.
const (
	HeaderRequestID  = "X-Notion-Request-Id"
	HeaderRetryAfter = "Retry-After"
	HeaderCFRay      = "Cf-Ray"
)

// maxErrorBody bounds how much of an error body is read into memory.
const maxErrorBody = 1 << 20

// maxMessage bounds the message quoted by [Error.Error].
const maxMessage = 512

// maxStoredMessage bounds the message an Error keeps from the wire.
const maxStoredMessage = 4 << 10

// Error is a failed Notion call. The [Transport] returns it (wrapped by
// net/http in a *url.Error) for every response with a status of 400 or more
// and for every request that got no response; [CheckResponse] builds it from
// a response. Match it with errors.Is against the ErrX sentinels or read it
// with errors.As:
//
//	var e *notionauth.Error
//	if errors.As(err, &e) && e.Kind == notionauth.PermissionLost {
//		// ask the user to share e.ObjectID again
//	}
//
// An Error never holds a token, a secret or a query string.
type Error struct {
	Kind       Kind
	StatusCode int           // HTTP status; 0 when no response came
	Code       string        // Notion's "code" (or the OAuth "error" field)
	Message    string        // Notion's "message" (or "error_description"), or a description
	RequestID  string        // the body's request_id or the x-notion-request-id header
	Reason     string        // additional_data.rate_limit_reason or a ReasonX constant
	RetryAfter time.Duration // Throttled: how long Notion asked to wait; 0 when it did not say
	ObjectID   string        // PermissionLost: the object concerned; ReasonMaybeCommitted: the committed one; dashed lower-case
	Method     string        // the request's method
	Path       string        // the request's URL path: never a query, never a token
	Attempts   int           // requests sent for this call (0: none was sent)
	Key        string        // the Manager's key of the grant the call was for; "" outside a Manager
	Err        error         // the underlying cause (network or context error), if any
}

// Error returns a one-line description such as
//
//	notionauth: GET /v1/pages/59833787-2cf9-4fdf-8782-e53db20768a5: permission lost (404 object_not_found): Could not find page ...
//
// It never contains a token.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("notionauth: ")
	if e.Method != "" || e.Path != "" {
		// Both come from the caller's request: a path may hold an escaped
		// newline (%0A) or anything else, so they are made safe too.
		b.WriteString(oneLine(e.Method, 64))
		if e.Method != "" && e.Path != "" {
			b.WriteByte(' ')
		}
		b.WriteString(oneLine(e.Path, maxMessage))
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.StatusCode != 0 || e.Code != "" {
		b.WriteString(" (")
		if e.StatusCode != 0 {
			b.WriteString(strconv.Itoa(e.StatusCode))
			if e.Code != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(oneLine(e.Code, 64))
		b.WriteByte(')')
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(oneLine(e.Message, maxMessage))
	}
	if e.Kind == Throttled && e.RetryAfter > 0 {
		b.WriteString("; retry after ")
		b.WriteString(e.RetryAfter.String())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "; %d attempts", e.Attempts)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.cause())
	}
	return b.String()
}

// GoString keeps %#v as safe as %v: it prints the Error's fields but only
// the message of its cause, never the cause's internals.
func (e Error) GoString() string {
	return fmt.Sprintf("&notionauth.Error{Kind:%v, StatusCode:%d, Code:%q, Message:%q, RequestID:%q, Reason:%q, RetryAfter:%v, ObjectID:%q, Method:%q, Path:%q, Attempts:%d, Key:%q, Err:%q}",
		e.Kind, e.StatusCode, oneLine(e.Code, 64), oneLine(e.Message, maxMessage), oneLine(e.RequestID, 64),
		oneLine(e.Reason, 64), e.RetryAfter, oneLine(e.ObjectID, 64), oneLine(e.Method, 64), oneLine(e.Path, maxMessage),
		e.Attempts, oneLine(e.Key, maxMessage), e.cause())
}

// cause is the one-line message of e's cause, "" when there is none.
func (e *Error) cause() string {
	if e.Err == nil {
		return ""
	}
	return oneLine(strings.TrimPrefix(e.Err.Error(), "notionauth: "), maxMessage)
}

// Format makes every fmt verb print what Error and GoString do, never the
// fields by reflection (which would print the cause's internals): %v, %+v
// and %s print Error(), %q it quoted, %#v GoString, and any other verb
// (%x, %d, ...) only the type's name.
func (e Error) Format(f fmt.State, verb rune) {
	formatSafe(f, verb, "notionauth.Error", e.Error, e.GoString)
}

// MarshalJSON encodes e's fields, its Kind by name and its cause by its
// one-line message, never the cause's internals.
func (e Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind       string `json:"kind"`
		StatusCode int    `json:"status,omitempty"`
		Code       string `json:"code,omitempty"`
		Message    string `json:"message,omitempty"`
		RequestID  string `json:"request_id,omitempty"`
		Reason     string `json:"reason,omitempty"`
		RetryAfter string `json:"retry_after,omitempty"`
		ObjectID   string `json:"object_id,omitempty"`
		Method     string `json:"method,omitempty"`
		Path       string `json:"path,omitempty"`
		Attempts   int    `json:"attempts,omitempty"`
		Key        string `json:"key,omitempty"`
		Err        string `json:"cause,omitempty"`
	}{e.Kind.String(), e.StatusCode, oneLine(e.Code, 64), oneLine(e.Message, maxMessage), oneLine(e.RequestID, 64),
		oneLine(e.Reason, 64), durationOrEmpty(e.RetryAfter), oneLine(e.ObjectID, 64), oneLine(e.Method, 64),
		oneLine(e.Path, maxMessage), e.Attempts, oneLine(e.Key, maxMessage), e.cause()})
}

// LogValue makes log/slog print e as a group of its fields, as
// MarshalJSON does.
func (e Error) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", e.Kind.String()),
		slog.Int("status", e.StatusCode),
		slog.String("code", oneLine(e.Code, 64)),
		slog.String("message", oneLine(e.Message, maxMessage)),
		slog.String("request_id", oneLine(e.RequestID, 64)),
		slog.String("reason", oneLine(e.Reason, 64)),
		slog.Duration("retry_after", e.RetryAfter),
		slog.String("object_id", oneLine(e.ObjectID, 64)),
		slog.String("method", oneLine(e.Method, 64)),
		slog.String("path", oneLine(e.Path, maxMessage)),
		slog.Int("attempts", e.Attempts),
		slog.String("key", oneLine(e.Key, maxMessage)),
		slog.String("cause", e.cause()),
	)
}

func durationOrEmpty(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// Unwrap returns the underlying cause, so that errors.Is(err,
// context.DeadlineExceeded) works when a deadline ended the call.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's Kind (ErrAuthRevoked for
// AuthRevoked, and so on). An Error of Kind Unclassified or Canceled, or of
// an unknown Kind, matches no sentinel.
func (e *Error) Is(target error) bool {
	if e.Kind < 0 || int(e.Kind) >= len(sentinels) {
		return false
	}
	s := sentinels[e.Kind]
	return s != nil && target == s
}

// CheckResponse classifies resp. It returns nil when the status is below 400
// and an *[Error] otherwise. It reads at most 1 MiB of the body and puts what
// it read back in front of the rest, so resp.Body can still be read in full
// and must still be closed by the caller. Use it to classify responses that
// did not pass through a [Transport]; the Transport does this itself.
func CheckResponse(resp *http.Response) error {
	if resp == nil {
		return &Error{Kind: InvalidRequest, Message: "nil response"}
	}
	if resp.StatusCode < 400 {
		return nil
	}
	var method, path, query string
	if resp.Request != nil {
		method = resp.Request.Method
		if resp.Request.URL != nil {
			path, query = resp.Request.URL.Path, resp.Request.URL.RawQuery
		}
	}
	if resp.Body == nil {
		return classify(resp.StatusCode, resp.Header, nil, method, path, query, time.Now())
	}
	body, err := readBounded(resp.Body)
	resp.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(body), resp.Body), Closer: resp.Body}
	e := classify(resp.StatusCode, resp.Header, body, method, path, query, time.Now())
	if err != nil && e.Err == nil {
		e.Err = err
	}
	return e
}

type replayBody struct {
	io.Reader
	io.Closer
}

// readBounded reads at most maxErrorBody+1 bytes of r: one byte more than
// the limit, so that an oversized body is seen as such (and never parses).
func readBounded(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, maxErrorBody+1))
}

// errorBody is the part of an error body notionauth reads. Notion's REST
// errors use code/message; the token endpoint may use OAuth's
// error/error_description instead.
type errorBody struct {
	object, code, message, requestID string
	reason, retryAfter               string
	blockLimit                       bool
	oauthShape                       bool   // the code came from OAuth's "error" field
	committed                        bool   // a 503 that says the write may have been applied
	committedID                      string // additional_data.committed_resource_id
}

// parseErrorBody reads body leniently: fields of the wrong type are ignored
// rather than failing the whole body. ok is false unless body is a JSON
// object that names an error (object "error", or a code or error field).
func parseErrorBody(body []byte) (b errorBody, ok bool) {
	if len(body) > maxErrorBody {
		// Cut by readBounded: whatever parses in the first 1 MiB (say, a
		// JSON error padded with whitespace) is not the whole answer.
		return b, false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return b, false
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return b, false
	}
	b.object = jsonString(raw["object"])
	b.code = jsonString(raw["code"])
	b.message = jsonString(raw["message"])
	if b.code == "" {
		b.code = jsonString(raw["error"])
		b.oauthShape = b.code != ""
	}
	if b.message == "" {
		b.message = jsonString(raw["error_description"])
	}
	b.requestID = jsonString(raw["request_id"])
	if ad, found := raw["additional_data"]; found {
		var data map[string]json.RawMessage
		if json.Unmarshal(ad, &data) == nil {
			b.reason = jsonString(data["rate_limit_reason"])
			b.retryAfter = jsonScalar(data["retry_after"])
			b.committedID = jsonString(data["committed_resource_id"])
			_, guided := data["retry_guidance"]
			b.committed = guided || b.committedID != ""
			for _, v := range data {
				if mentionsBlockLimit(string(v)) {
					b.blockLimit = true
				}
			}
		}
	}
	b.blockLimit = b.blockLimit || mentionsBlockLimit(b.message)
	return b, b.object == "error" || b.code != ""
}

func mentionsBlockLimit(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "block limit") || strings.Contains(s, "block_limit")
}

// jsonString returns raw as a string if it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// jsonScalar returns a JSON string's value or a JSON number's text.
func jsonScalar(raw json.RawMessage) string {
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
		return ""
	}
	return jsonString(raw)
}

// classify builds the *Error for a response with a status of 400 or more.
// now is the time the response arrived: an HTTP-date Retry-After is read
// relative to it. classify reads no clock of its own.
func classify(status int, h http.Header, body []byte, method, path, query string, now time.Time) *Error {
	e := &Error{StatusCode: status, Method: method, Path: path}
	b, notion := parseErrorBody(body)
	oauth := isOAuthPath(path)
	if b.oauthShape && !oauth {
		// OAuth's "error" field is the token endpoints' alone: elsewhere
		// it is a gateway's or proxy's JSON, not Notion's.
		b.code, b.oauthShape = "", false
		notion = b.object == "error"
	}
	// What the wire says goes into the Error only in a shape that cannot
	// carry an echoed secret: an id that is a UUID, codes that are
	// identifiers, messages made one line with tokens redacted.
	reqID, bodyID := requestID(h.Get(HeaderRequestID)), requestID(b.requestID)
	hasID := reqID != "" || bodyID != ""
	// A JSON answer with a cf-ray but no Notion request id anywhere came
	// from the edge, except the token endpoint's OAuth-shaped errors, which
	// carry no request_id and which the edge never produces.
	edge := !notion || (!hasID && h.Get(HeaderCFRay) != "" && !(b.oauthShape && oauth))
	// Only Notion may say a token is gone, and its errors carry
	// "object":"error" and a request id: a 401 without both came from
	// the app's own proxy or gateway, whatever its JSON says.
	if status == 401 && !oauth && (b.object != "error" || !hasID) {
		edge = true
	}
	e.RequestID = bodyID
	if e.RequestID == "" {
		e.RequestID = reqID
	}
	if edge {
		e.Kind = edgeKind(status)
		e.Reason = ReasonEdge
		e.Message = edgeMessage(h, body)
	} else {
		e.Code, e.Message, e.Reason = identifier(b.code), oneLine(b.message, maxStoredMessage), identifier(b.reason)
		e.Kind = notionKind(status, b.code, b.reason, b.message, oauth)
		if e.Kind == InvalidRequest && b.code == CodeInvalidClient {
			e.Message = joinMessage("the OAuth client credentials (client id or secret) are wrong", e.Message)
		}
	}
	switch e.Kind {
	case Throttled:
		hdr, hok := parseRetryAfter(h.Get(HeaderRetryAfter), now)
		data, dok := parseRetryAfter(b.retryAfter, now)
		switch {
		case hok && dok && data <= hdr && hdr-data < time.Second:
			// The same wait, said more precisely than the header's
			// whole seconds.
			e.RetryAfter = data
		case hok:
			e.RetryAfter = hdr
		case dok:
			e.RetryAfter = data
		}
	case Unavailable:
		if !edge && b.committed {
			e.Reason = ReasonMaybeCommitted
			e.ObjectID, _ = parseID(b.committedID)
		}
	case PermissionLost:
		switch {
		case b.blockLimit:
			e.Reason = ReasonBlockLimit
			e.ObjectID = objectID(path, query, b.message)
		case status == 403 && mentionsCapability(b.message):
			// About the connection, not an object: an id in the
			// path would send the user to re-share the wrong thing.
			e.Reason = ReasonMissingCapability
		default:
			e.ObjectID = objectID(path, query, b.message)
		}
	}
	return e
}

// mentionsCapability reports whether a 403's message says the connection
// lacks a capability ("Insufficient permissions for this endpoint.").
func mentionsCapability(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "insufficient permissions") || strings.Contains(msg, "capabilit")
}

// mentionsProperty reports whether a 404's message is about a database
// property ("Could not find property with ID: ...", "... with name or id:
// ..."), not about a page, block, database or data source.
func mentionsProperty(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "could not find property")
}

// notionKind maps a JSON error answered by Notion itself.
func notionKind(status int, code, reason, message string, oauth bool) Kind {
	switch {
	case status == 429:
		if reason == ReasonRequestBlocked {
			return Blocked
		}
		return Throttled
	case status == 529:
		return Throttled
	case status >= 500 && status < 600:
		return Unavailable
	case code == CodeInvalidClient || code == CodeUnauthorizedClient:
		return InvalidRequest
	case oauth:
		// The token endpoint answers for the grant (Basic client auth),
		// not for a bearer token: only invalid_grant means it is gone.
		if code == CodeInvalidGrant {
			return AuthRevoked
		}
		if status == 409 {
			return Conflict
		}
		return InvalidRequest
	case status == 401:
		return AuthRevoked
	case status == 404 && code == CodeObjectNotFound && mentionsProperty(message):
		// A property id the schema does not have: the request is
		// wrong, nothing was unshared.
		return InvalidRequest
	case status == 403, status == 404:
		return PermissionLost
	case status == 409:
		return Conflict
	case status >= 400 && status < 500:
		return InvalidRequest
	}
	return Unclassified
}

// edgeKind maps a response that did not come from Notion's API.
func edgeKind(status int) Kind {
	switch {
	case status == 401, status == 403:
		return Blocked
	case status == 429, status == 529:
		return Throttled
	case status == 409:
		return Conflict
	case status >= 500 && status < 600:
		return Unavailable
	case status >= 400 && status < 500:
		return InvalidRequest
	}
	return Unclassified
}

// edgeMessage describes a non-Notion answer by its HTML title, if any.
func edgeMessage(h http.Header, body []byte) string {
	msg := "response did not come from Notion's API"
	if ct := h.Get("Content-Type"); ct != "" {
		msg += " (" + oneLine(ct, 64) + ")"
	}
	if ray := h.Get(HeaderCFRay); ray != "" {
		msg += ", cf-ray " + oneLine(ray, 64)
	}
	if t := htmlTitle(body); t != "" {
		msg += ": " + t
	}
	return msg
}

func htmlTitle(body []byte) string {
	const max = 64 << 10 // titles sit at the top
	if len(body) > max {
		body = body[:max]
	}
	// Lower-case ASCII only: bytes.ToLower would change the length of
	// invalid UTF-8 and of some runes (U+0130), so that its indices would
	// not point into body any more.
	lower := make([]byte, len(body))
	for i, c := range body {
		lower[i] = lowerASCII(c)
	}
	i := bytes.Index(lower, []byte("<title"))
	if i < 0 {
		return ""
	}
	gt := bytes.IndexByte(lower[i:], '>')
	if gt < 0 {
		return ""
	}
	start := i + gt + 1
	end := bytes.Index(lower[start:], []byte("</title"))
	if end < 0 {
		return ""
	}
	return oneLine(strings.Join(strings.Fields(string(body[start:start+end])), " "), 200)
}

func joinMessage(ours, theirs string) string {
	if theirs == "" {
		return ours
	}
	return ours + ": " + theirs
}

// isOAuthPath reports whether path is one of the token endpoints, also
// behind a proxy's path prefix (as probeRequest allows).
func isOAuthPath(path string) bool {
	i := strings.Index(path, "/v1/")
	return i >= 0 && strings.HasPrefix(path[i:], "/v1/oauth/")
}

// objectID finds the object a PermissionLost error is about: the first
// Notion id in the path (/v1/pages/{id}, /v1/blocks/{id}/children,
// /v1/data_sources/{id}/query, ...), else a block_id or page_id query
// parameter (/v1/comments?block_id=), else the first id in Notion's message
// ("Could not find page with ID: ..."). It returns "" when there is none.
func objectID(path, query, message string) string {
	for seg := range strings.SplitSeq(path, "/") {
		if id, ok := parseID(seg); ok {
			return id
		}
	}
	if query != "" {
		if q, err := url.ParseQuery(query); err == nil || len(q) > 0 {
			for _, k := range [...]string{"block_id", "page_id", "database_id", "data_source_id"} {
				if id, ok := parseID(q.Get(k)); ok {
					return id
				}
			}
		}
	}
	return findID(message)
}

// parseID accepts a Notion id, dashed (8-4-4-4-12) or not (32 hex digits),
// and returns it dashed and in lower case.
func parseID(s string) (string, bool) {
	var hex [32]byte
	switch len(s) {
	case 32:
		for i := 0; i < 32; i++ {
			if !isHex(s[i]) {
				return "", false
			}
			hex[i] = lowerASCII(s[i])
		}
	case 36:
		n := 0
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if s[i] != '-' {
					return "", false
				}
				continue
			}
			if !isHex(s[i]) {
				return "", false
			}
			hex[n] = lowerASCII(s[i])
			n++
		}
	default:
		return "", false
	}
	var out [36]byte
	n := 0
	for i := range out {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			out[i] = '-'
			continue
		}
		out[i] = hex[n]
		n++
	}
	return string(out[:]), true
}

// findID returns the first Notion id in s that stands alone (not part of a
// longer run of hex digits or letters).
func findID(s string) string {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) || i > 0 && isWordByte(s[i-1]) {
			continue
		}
		for _, n := range [...]int{36, 32} {
			if i+n <= len(s) && (i+n == len(s) || !isWordByte(s[i+n])) {
				if id, ok := parseID(s[i : i+n]); ok {
					return id
				}
			}
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// KindOf returns the Kind of err, looking through any wrapping (*url.Error,
// fmt.Errorf("%w"), errors.Join). It understands:
//
//   - *[Error], as returned by the [Transport] and [CheckResponse];
//   - github.com/jomei/notionapi's *notionapi.Error, *notionapi.RateLimitedError
//     and *notionapi.TokenCreateError, for apps that call Notion without the
//     Transport (a 401 read this way is unconfirmed, and a blocked 429 cannot
//     be told from throttling, since notionapi drops additional_data);
//   - golang.org/x/oauth2's *oauth2.RetrieveError from a token endpoint;
//   - context.Canceled, however wrapped (a dial or a read cut short by it
//     too), which is [Canceled];
//   - a [Store]'s errors: [ErrGrantNotFound] is [InvalidRequest] (connect
//     first); so is a store that needs fixing, as retrying will not help:
//     data that the key given cannot read ([ErrWrongKey], [ErrKeyRequired],
//     [ErrNotEncrypted]), damaged data ([ErrCorrupt]), an unknown format
//     ([ErrUnsupportedFormat]) and a key of the wrong size
//     ([KeySizeError]). Any other *[StoreError] is the backend failing (an
//     *fs.PathError, a lock, a full disk, a server-backed store out of
//     reach) and is [Unavailable];
//   - network failures and deadlines, which are [Unavailable].
//
// A nil error and anything else are [Unclassified].
func KindOf(err error) Kind {
	if err == nil {
		return Unclassified
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var ne *notionapi.Error
	if errors.As(err, &ne) {
		return kindOfNotion(ne.Status, string(ne.Code), ne.Message, false)
	}
	var rl *notionapi.RateLimitedError
	if errors.As(err, &rl) {
		return Throttled
	}
	var te *notionapi.TokenCreateError
	if errors.As(err, &te) {
		return kindOfNotion(0, string(te.Code), te.Message, true)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code, msg := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// oauth2 reads only the OAuth shape ("error"); Notion may
			// answer {"object":"error","code":...} instead.
			if b, ok := parseErrorBody(re.Body); ok {
				code, msg = b.code, b.message
			}
		}
		return kindOfNotion(status, code, msg, true)
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	if errors.Is(err, ErrGrantNotFound) || isStoreConfigError(err) {
		return InvalidRequest
	}
	var se *StoreError
	if errors.As(err, &se) {
		return Unavailable
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return Unavailable
	}
	return Unclassified
}

// isStoreConfigError reports whether err says a store must be fixed
// (its key, its data) before it can work.
func isStoreConfigError(err error) bool {
	for _, target := range [...]error{ErrWrongKey, ErrCorrupt, ErrKeyRequired, ErrNotEncrypted, ErrUnsupportedFormat} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ks KeySizeError
	var ksp *KeySizeError
	return errors.As(err, &ks) || errors.As(err, &ksp)
}

// kindOfNotion classifies an error known only by its status (0 if lost),
// code and message, as notionapi and oauth2 report them.
func kindOfNotion(status int, code, message string, oauth bool) Kind {
	if status == 0 {
		status = statusOfCode(code)
	}
	if status == 0 {
		return Unclassified
	}
	return notionKind(status, code, "", message, oauth)
}

// statusOfCode is the status Notion answers each code with.
func statusOfCode(code string) int {
	switch code {
	case CodeUnauthorized, CodeInvalidClient:
		return 401
	case CodeRestrictedResource, CodeUnauthorizedClient:
		return 403
	case CodeObjectNotFound:
		return 404
	case CodeConflict:
		return 409
	case CodeRateLimited:
		return 429
	case CodeInternalServerError:
		return 500
	case CodeBadGateway:
		return 502
	case CodeServiceUnavailable, CodeDatabaseUnavailable:
		return 503
	case CodeGatewayTimeout:
		return 504
	case CodeServiceOverload:
		return 529
	case CodeValidation, CodeInvalidJSON, CodeInvalidRequestURL, CodeInvalidRequest, CodeMissingVersion,
		CodeInvalidGrant, CodeUnsupportedGrantType, "invalid_beta":
		return 400
	}
	return 0
}
