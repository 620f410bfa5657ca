package notionauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// Values that the fixtures under testdata/ carry.
const (
	fxBodyReqID  = "4f3d2c1b-0a9e-4d8c-b7a6-5e4f3d2c1b0a" // request_id in testdata/notion/*.json
	fxOAuthReqID = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d" // request_id in testdata/oauth/*_notion.json
	fxHdrReqID   = "b1e2d3c4-a5f6-4b7c-8d9e-0f1a2b3c4d5e" // sent as X-Notion-Request-Id
	fxRay        = "8f3c2a1b7d6e5f4a-SJC"

	fxPage      = "1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" // named in object_not_found_page.json
	fxPageRaw   = "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d"
	fxPageUpper = "1C2B3A4D5E6F4A7B8C9D0E1F2A3B4C5D"
	fxDB        = "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d" // named, undashed, in object_not_found_database_undashed.json
	fxDBRaw     = "8a7b6c5d4e3f4a2b9c1d0e9f8a7b6c5d"
	fxBlock     = "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7" // named, upper case, in object_not_found_upper.json
	fxBlockUp   = "3E4F5A6B-7C8D-4E9F-A0B1-C2D3E4F5A6B7"
	fxDS        = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"

	fxAPI = "https://api.notion.com"
)

// fxSecrets look like the three kinds of Notion secrets. None is real.
var fxSecrets = []string{
	"secret_Zq8vXo2LkR4tYw6NpA1sDf3GhJ5kL7zXc9VbN0mQwEr",
	"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",
	"nrt_5b2c9e1f7a3d4c6b8e0f2a4c6e8b0d2f_refresh",
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// readTestdata returns the contents of testdata/name.
func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	require.NoError(tb, err)
	return b
}

// header builds an http.Header from name/value pairs; an empty value
// deletes the name, so that a base set can be trimmed.
func header(base http.Header, kv ...string) http.Header {
	h := base.Clone()
	if h == nil {
		h = http.Header{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			h.Del(kv[i])
		} else {
			h.Set(kv[i], kv[i+1])
		}
	}
	return h
}

// notionHdr is what Notion's API answers with: JSON behind Cloudflare, with
// its own request id.
func notionHdr(kv ...string) http.Header {
	base := http.Header{
		"Content-Type":        {"application/json; charset=utf-8"},
		"Cf-Ray":              {fxRay},
		"X-Notion-Request-Id": {fxHdrReqID},
		"Server":              {"cloudflare"},
	}
	return header(base, kv...)
}

// edgeHdr is what the Cloudflare edge answers with: HTML and a cf-ray, no
// Notion request id.
func edgeHdr(kv ...string) http.Header {
	base := http.Header{
		"Content-Type": {"text/html; charset=UTF-8"},
		"Cf-Ray":       {fxRay},
		"Server":       {"cloudflare"},
	}
	return header(base, kv...)
}

// newTestResponse builds a response to method rawURL.
func newTestResponse(tb testing.TB, status int, method, rawURL string, h http.Header, body []byte) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	require.NoError(tb, err)
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    req,
	}
}

// checkError runs CheckResponse and requires an *Error.
func checkError(tb testing.TB, resp *http.Response) *Error {
	tb.Helper()
	err := CheckResponse(resp)
	require.Error(tb, err)
	var e *Error
	require.True(tb, errors.As(err, &e), "CheckResponse returned %T, want *Error", err)
	return e
}

type checkCase struct {
	name      string
	status    int
	method    string // GET when empty
	url       string // path and query, on fxAPI
	header    http.Header
	file      string // body from testdata/; else body
	body      string
	nilBody   bool
	noRequest bool

	// Kind, Code, Reason, RetryAfter, ObjectID and RequestID are compared
	// exactly.
	want Error
	msg  string // a substring of Message, when set
}

func checkCases() []checkCase {
	nf := func(name, method, path string, id string) checkCase {
		return checkCase{
			name: name, status: 404, method: method, url: path, header: notionHdr(),
			file: "notion/object_not_found.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: id, RequestID: fxBodyReqID},
		}
	}
	return []checkCase{
		// 400: the request is wrong.
		{name: "400 validation_error", status: 400, method: "PATCH", url: "/v1/blocks/" + fxPage, header: notionHdr(),
			file: "notion/validation_error.json", msg: "body failed validation",
			want: Error{Kind: InvalidRequest, Code: CodeValidation, RequestID: fxBodyReqID}},
		{name: "400 invalid_json", status: 400, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/invalid_json.json", msg: "Error parsing JSON body.",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidJSON, RequestID: fxBodyReqID}},
		{name: "400 invalid_request_url", status: 400, url: "/v1/pagez/" + fxPage, header: notionHdr(),
			file: "notion/invalid_request_url.json",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidRequestURL, RequestID: fxBodyReqID}},
		{name: "400 invalid_request", status: 400, method: "POST", url: "/v1/search", header: notionHdr(),
			file: "notion/invalid_request.json",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidRequest, RequestID: fxBodyReqID}},
		{name: "400 missing_version", status: 400, url: "/v1/users/me", header: notionHdr(),
			file: "notion/missing_version.json", msg: "Notion-Version",
			want: Error{Kind: InvalidRequest, Code: CodeMissingVersion, RequestID: fxBodyReqID}},
		{name: "400 invalid_beta", status: 400, url: "/v1/users/me", header: notionHdr(),
			file: "notion/invalid_beta.json",
			want: Error{Kind: InvalidRequest, Code: "invalid_beta", RequestID: fxBodyReqID}},

		// 401: the only revocation signal, when Notion says it.
		{name: "401 unauthorized", status: 401, url: "/v1/users/me", header: notionHdr(),
			file: "notion/unauthorized.json", msg: "API token is invalid.",
			want: Error{Kind: AuthRevoked, Code: CodeUnauthorized, RequestID: fxBodyReqID}},
		{name: "401 unauthorized with leading whitespace", status: 401, url: "/v1/users/me", header: notionHdr(),
			body: "\r\n  " + `{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}` + "\n",
			want: Error{Kind: AuthRevoked, Code: CodeUnauthorized, RequestID: fxHdrReqID}},

		// An app's own proxy or gateway answering 401 in JSON: Notion's
		// errors carry "object":"error" and a request id, and nothing
		// else may say the token is gone.
		{name: "401 proxy json is not token loss", status: 401, url: "/v1/users/me",
			header: header(nil, "Content-Type", "application/json"), body: `{"error":"unauthorized"}`,
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "401 proxy json with a forwarded request id is not token loss", status: 401, url: "/v1/users/me",
			header: notionHdr(), body: `{"error":"unauthorized","message":"API token is invalid."}`,
			want: Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "401 proxy json with a code is not token loss", status: 401, url: "/v1/pages/" + fxPage,
			header: header(nil, "Content-Type", "application/json"), body: `{"code":"unauthorized","message":"missing session"}`,
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "401 notion-shaped json without any request id is not token loss", status: 401, url: "/v1/users/me",
			header: header(nil, "Content-Type", "application/json"),
			body:   `{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}`,
			want:   Error{Kind: Blocked, Reason: ReasonEdge}},

		// Cloudflare pages: never token loss, never permission loss.
		{name: "401 cloudflare html", status: 401, url: "/v1/users/me", header: edgeHdr(),
			file: "edge/cloudflare_401.html", msg: "Access denied | api.notion.com used Cloudflare to restrict access",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "403 cloudflare html", status: 403, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			file: "edge/cloudflare_block_403.html", msg: "Attention Required! | Cloudflare",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "403 html without cf-ray", status: 403, url: "/v1/pages/" + fxPage, header: edgeHdr("Cf-Ray", ""),
			file: "edge/cloudflare_block_403.html",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "403 html with a notion request id is still not notion", status: 403, url: "/v1/pages/" + fxPage,
			header: edgeHdr("X-Notion-Request-Id", fxHdrReqID), file: "edge/cloudflare_block_403.html",
			want: Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "401 json with cf-ray and no request id is edge", status: 401, url: "/v1/users/me",
			header: notionHdr("X-Notion-Request-Id", ""), file: "edge/cf_unauthorized.json",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "403 json with cf-ray and no request id is edge", status: 403, url: "/v1/pages/" + fxPage,
			header: notionHdr("X-Notion-Request-Id", ""), file: "edge/cf_restricted_resource.json",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "403 cloudflare json with a numeric code", status: 403, url: "/v1/pages/" + fxPage,
			header: notionHdr("X-Notion-Request-Id", ""), file: "edge/cf_access_denied.json",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "401 json with cf-ray and header request id is notion", status: 401, url: "/v1/users/me",
			header: notionHdr(), file: "edge/cf_unauthorized.json",
			want: Error{Kind: AuthRevoked, Code: CodeUnauthorized, RequestID: fxHdrReqID}},
		{name: "403 json with cf-ray and header request id is notion", status: 403, url: "/v1/pages/" + fxPage,
			header: notionHdr(), file: "edge/cf_restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxHdrReqID}},
		{name: "403 json with cf-ray and body request id is notion", status: 403, url: "/v1/pages/" + fxPage,
			header: notionHdr("X-Notion-Request-Id", ""), file: "notion/restricted_resource_no_access.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "403 json without cf-ray or request id is notion", status: 403, url: "/v1/pages/" + fxPage,
			header: notionHdr("X-Notion-Request-Id", "", "Cf-Ray", ""), file: "edge/cf_restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability}},

		// 403 restricted_resource about sharing ("API token does not have
		// access to this resource.", the example in Notion's status-codes
		// reference): permission, not token; ObjectID says what to share.
		{name: "403 no access to a page", status: 403, url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/restricted_resource_no_access.json", msg: "does not have access",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "403 no access to a page's children", status: 403, method: "PATCH", url: "/v1/blocks/" + fxPageRaw + "/children", header: notionHdr(),
			file: "notion/restricted_resource_no_access.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "403 no access to a data source", status: 403, method: "POST", url: "/v1/data_sources/" + fxDS + "/query", header: notionHdr(),
			file: "notion/restricted_resource_no_access.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, ObjectID: fxDS, RequestID: fxBodyReqID}},
		{name: "403 no access on a path without id", status: 403, method: "POST", url: "/v1/search", header: notionHdr(),
			file: "notion/restricted_resource_no_access.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, RequestID: fxBodyReqID}},

		// 403 restricted_resource about the connection's capabilities
		// ("Insufficient permissions for this endpoint."): sharing again
		// will not help, so no ObjectID, even when the path has one.
		{name: "403 capability: update a page", status: 403, method: "PATCH", url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/restricted_resource.json", msg: "Insufficient permissions",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: insert content", status: 403, method: "PATCH", url: "/v1/blocks/" + fxPage + "/children", header: notionHdr(),
			file: "notion/restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: create a page", status: 403, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: read comments", status: 403, url: "/v1/comments?block_id=" + fxBlock, header: notionHdr(),
			file: "notion/restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: insert a comment", status: 403, method: "POST", url: "/v1/comments", header: notionHdr(),
			file: "notion/restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: list users", status: 403, url: "/v1/users?page_size=100", header: notionHdr(),
			file: "notion/restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: search", status: 403, method: "POST", url: "/v1/search", header: notionHdr(),
			file: "notion/restricted_resource.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxBodyReqID}},
		{name: "403 capability: message in another case", status: 403, url: "/v1/users/" + fxPage, header: notionHdr(),
			body: `{"object":"error","status":403,"code":"restricted_resource","message":"INSUFFICIENT PERMISSIONS for this endpoint"}`,
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxHdrReqID}},
		{name: "403 capability: message that names a capability", status: 403, url: "/v1/comments?block_id=" + fxBlock, header: notionHdr(),
			// Wording Notion has not been seen to use: the rule is
			// "capabilit" anywhere in the message.
			body: `{"object":"error","status":403,"code":"restricted_resource","message":"This integration lacks the read comments capability."}`,
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonMissingCapability, RequestID: fxHdrReqID}},
		{name: "404 with a capability message is still about the object", status: 404, url: "/v1/pages/" + fxPage, header: notionHdr(),
			body: `{"object":"error","status":404,"code":"object_not_found","message":"Insufficient permissions for this endpoint."}`,
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxPage, RequestID: fxHdrReqID}},

		// 403 block limit: wins over the capability message.
		{name: "403 block limit in message", status: 403, method: "PATCH", url: "/v1/blocks/" + fxPage + "/children", header: notionHdr(),
			file: "notion/block_limit.json", msg: "block limit",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonBlockLimit, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "403 block limit in additional_data", status: 403, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/block_limit_additional_data.json", msg: "Insufficient permissions",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonBlockLimit, RequestID: fxBodyReqID}},
		{name: "403 block limit in additional_data with a path id", status: 403, method: "PATCH", url: "/v1/blocks/" + fxPage + "/children", header: notionHdr(),
			file: "notion/block_limit_additional_data.json",
			want: Error{Kind: PermissionLost, Code: CodeRestrictedResource, Reason: ReasonBlockLimit, ObjectID: fxPage, RequestID: fxBodyReqID}},

		// 404 object_not_found: ObjectID from each path shape.
		nf("404 pages/{id}", "GET", "/v1/pages/"+fxPage, fxPage),
		nf("404 pages/{id} undashed", "PATCH", "/v1/pages/"+fxPageRaw, fxPage),
		nf("404 pages/{id} upper case", "GET", "/v1/pages/"+fxPageUpper, fxPage),
		nf("404 pages/{id}/properties/{p}", "GET", "/v1/pages/"+fxPageRaw+"/properties/title", fxPage),
		nf("404 pages/{id}/properties/{escaped p}", "GET", "/v1/pages/"+fxPage+"/properties/%3AUPp?page_size=25", fxPage),
		nf("404 blocks/{id}", "GET", "/v1/blocks/"+fxBlockUp, fxBlock),
		nf("404 blocks/{id} delete", "DELETE", "/v1/blocks/"+fxBlock, fxBlock),
		nf("404 blocks/{id}/children", "GET", "/v1/blocks/"+fxPage+"/children?page_size=100&start_cursor="+fxDB, fxPage),
		nf("404 blocks/{id}/children append", "PATCH", "/v1/blocks/"+fxPageRaw+"/children", fxPage),
		nf("404 databases/{id}", "GET", "/v1/databases/"+fxDB, fxDB),
		nf("404 databases/{id}/query", "POST", "/v1/databases/"+fxDBRaw+"/query", fxDB),
		nf("404 data_sources/{id}", "GET", "/v1/data_sources/"+fxDS, fxDS),
		nf("404 data_sources/{id}/query", "POST", "/v1/data_sources/"+fxDS+"/query", fxDS),
		nf("404 database id sent to data_sources", "GET", "/v1/data_sources/"+fxDBRaw, fxDB),
		nf("404 comments?block_id=", "GET", "/v1/comments?block_id="+fxPageRaw, fxPage),
		nf("404 comments?block_id= upper dashed", "GET", "/v1/comments?page_size=10&block_id="+fxBlockUp, fxBlock),
		nf("404 comments without block_id", "GET", "/v1/comments?page_size=10", ""),
		nf("404 search has no id", "POST", "/v1/search", ""),
		nf("404 path behind a proxy prefix", "GET", "/notion/v1/pages/"+fxPage, fxPage),
		{name: "404 POST pages, id only in message, undashed", status: 404, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/object_not_found_database_undashed.json", msg: "Could not find database",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxDB, RequestID: fxBodyReqID}},
		{name: "404 POST pages, id only in message, dashed", status: 404, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/object_not_found_page.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "404 POST comments, id only in message, upper case", status: 404, method: "POST", url: "/v1/comments", header: notionHdr(),
			file: "notion/object_not_found_upper.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxBlock, RequestID: fxBodyReqID}},
		{name: "404 path id wins over message id", status: 404, url: "/v1/blocks/" + fxBlock, header: notionHdr(),
			file: "notion/object_not_found_page.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxBlock, RequestID: fxBodyReqID}},
		{name: "404 data source query", status: 404, method: "POST", url: "/v1/data_sources/" + fxDS + "/query", header: notionHdr(),
			file: "notion/object_not_found_data_source.json", msg: "Could not find data source",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxDS, RequestID: fxBodyReqID}},
		{name: "404 POST pages, data source id only in message", status: 404, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/object_not_found_data_source.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxDS, RequestID: fxBodyReqID}},

		// 404 object_not_found about a database property: a property the
		// schema does not have is a wrong request, not lost sharing.
		{name: "404 property id on pages/{id}/properties/{p}", status: 404, url: "/v1/pages/" + fxPage + "/properties/BJXS", header: notionHdr(),
			file: "notion/object_not_found_property_id.json", msg: "Could not find property with ID",
			want: Error{Kind: InvalidRequest, Code: CodeObjectNotFound, RequestID: fxBodyReqID}},
		{name: "404 property id on a page update", status: 404, method: "PATCH", url: "/v1/pages/" + fxPageRaw, header: notionHdr(),
			file: "notion/object_not_found_property_id.json",
			want: Error{Kind: InvalidRequest, Code: CodeObjectNotFound, RequestID: fxBodyReqID}},
		{name: "404 property name in a data source query", status: 404, method: "POST", url: "/v1/data_sources/" + fxDS + "/query", header: notionHdr(),
			file: "notion/object_not_found_property_name.json", msg: "with name or id",
			want: Error{Kind: InvalidRequest, Code: CodeObjectNotFound, RequestID: fxBodyReqID}},
		{name: "404 property name in a database query", status: 404, method: "POST", url: "/v1/databases/" + fxDB + "/query", header: notionHdr(),
			file: "notion/object_not_found_property_name.json",
			want: Error{Kind: InvalidRequest, Code: CodeObjectNotFound, RequestID: fxBodyReqID}},
		{name: "404 property, message in another case", status: 404, url: "/v1/pages/" + fxPage + "/properties/title", header: notionHdr(),
			body: `{"object":"error","status":404,"code":"object_not_found","message":"could not find PROPERTY with id: title"}`,
			want: Error{Kind: InvalidRequest, Code: CodeObjectNotFound, RequestID: fxHdrReqID}},

		// 409.
		{name: "409 conflict_error", status: 409, method: "PATCH", url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/conflict_error.json",
			want: Error{Kind: Conflict, Code: CodeConflict, RequestID: fxBodyReqID}},
		{name: "409 html", status: 409, method: "PATCH", url: "/v1/pages/" + fxPage, header: edgeHdr(),
			body: "<html><head><title>409 Conflict</title></head></html>",
			want: Error{Kind: Conflict, Reason: ReasonEdge}},

		// 429: throttled unless blocked.
		{name: "429 request limit, header", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "12"),
			file: "notion/rate_limited.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonRequestRateLimit, RetryAfter: 12 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 space limit, header beats body", status: 429, method: "POST", url: "/v1/search", header: notionHdr("Retry-After", "90"),
			file: "notion/rate_limited_space.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonSpaceRateLimit, RetryAfter: 90 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 space limit, body number", status: 429, method: "POST", url: "/v1/search", header: notionHdr(),
			file: "notion/rate_limited_space.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonSpaceRateLimit, RetryAfter: 75 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 endpoint limit, body string", status: 429, method: "POST", url: "/v1/search", header: notionHdr(),
			file: "notion/rate_limited_endpoint.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonEndpointRateLimit, RetryAfter: 30 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 unknown reason is throttling", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "5"),
			file: "notion/rate_limited_unknown_reason.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: "public_api_some_future_limit", RetryAfter: 5 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 no reason, no retry-after", status: 429, url: "/v1/users", header: notionHdr(),
			file: "notion/rate_limited_plain.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RequestID: fxBodyReqID}},
		{name: "429 no reason, header", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "3"),
			file: "notion/rate_limited_plain.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RetryAfter: 3 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 decimal header", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "1.5"),
			file: "notion/rate_limited_plain.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RetryAfter: 1500 * time.Millisecond, RequestID: fxBodyReqID}},
		{name: "429 huge header is capped", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "99999999999"),
			file: "notion/rate_limited_plain.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RetryAfter: 24 * time.Hour, RequestID: fxBodyReqID}},
		{name: "429 blocked", status: 429, method: "POST", url: "/v1/pages", header: notionHdr("Retry-After", "60"),
			file: "notion/rate_limited_blocked.json",
			want: Error{Kind: Blocked, Code: CodeRateLimited, Reason: ReasonRequestBlocked, RequestID: fxBodyReqID}},
		{name: "429 non-numeric header falls back to body", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "soon"),
			file: "notion/rate_limited.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonRequestRateLimit, RetryAfter: 12 * time.Second, RequestID: fxBodyReqID}},
		{name: "429 non-numeric header, nothing in body", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "soon"),
			file: "notion/rate_limited_plain.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RequestID: fxBodyReqID}},
		{name: "429 negative header, nothing in body", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "-5"),
			file: "notion/rate_limited_plain.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RequestID: fxBodyReqID}},
		{name: "429 negative header and body", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "-5"),
			file: "notion/rate_limited_negative.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonRequestRateLimit, RequestID: fxBodyReqID}},
		{name: "429 wrong types in additional_data", status: 429, url: "/v1/users", header: notionHdr(),
			file: "notion/wrong_types_429.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, RequestID: fxBodyReqID}},
		{name: "429 cloudflare html", status: 429, url: "/v1/users", header: edgeHdr("Retry-After", "10"),
			file: "edge/rate_limited_429.html",
			want: Error{Kind: Throttled, Reason: ReasonEdge, RetryAfter: 10 * time.Second}},

		// 5xx: transient, JSON or HTML.
		{name: "500 json", status: 500, url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/internal_server_error.json",
			want: Error{Kind: Unavailable, Code: CodeInternalServerError, RequestID: fxBodyReqID}},
		{name: "502 json", status: 502, url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/bad_gateway.json",
			want: Error{Kind: Unavailable, Code: CodeBadGateway, RequestID: fxBodyReqID}},
		{name: "503 service_unavailable", status: 503, method: "POST", url: "/v1/databases/" + fxDB + "/query", header: notionHdr(),
			file: "notion/service_unavailable.json",
			want: Error{Kind: Unavailable, Code: CodeServiceUnavailable, RequestID: fxBodyReqID}},
		{name: "503 database_connection_unavailable", status: 503, url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/database_connection_unavailable.json",
			want: Error{Kind: Unavailable, Code: CodeDatabaseUnavailable, RequestID: fxBodyReqID}},
		{name: "503 write maybe committed", status: 503, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/service_unavailable_committed.json",
			want: Error{Kind: Unavailable, Code: CodeServiceUnavailable, RequestID: fxBodyReqID,
				Reason: ReasonMaybeCommitted, ObjectID: "1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}},
		{name: "504 json", status: 504, url: "/v1/pages/" + fxPage, header: notionHdr(),
			file: "notion/gateway_timeout.json",
			want: Error{Kind: Unavailable, Code: CodeGatewayTimeout, RequestID: fxBodyReqID}},
		{name: "500 html", status: 500, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			file: "edge/internal_error_500.html", msg: "500 Internal Server Error",
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "502 html", status: 502, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			file: "edge/bad_gateway_502.html", msg: "502 Bad Gateway",
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "503 html", status: 503, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			file: "edge/service_unavailable_503.html", msg: "503: Service temporarily unavailable",
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "504 html", status: 504, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			file: "edge/gateway_timeout_504.html", msg: "504: Gateway time-out",
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "502 empty body", status: 502, url: "/v1/pages/" + fxPage, header: http.Header{},
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},

		// 529: like 429.
		{name: "529 service_overload", status: 529, url: "/v1/pages/" + fxPage, header: notionHdr("Retry-After", "3"),
			file: "notion/service_overload.json",
			want: Error{Kind: Throttled, Code: CodeServiceOverload, RetryAfter: 3 * time.Second, RequestID: fxBodyReqID}},
		{name: "529 html", status: 529, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			file: "edge/overloaded_529.html",
			want: Error{Kind: Throttled, Reason: ReasonEdge}},

		// The token endpoint, in both shapes.
		{name: "token invalid_grant oauth shape", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_grant_oauth.json", msg: "Invalid refresh token.",
			want: Error{Kind: AuthRevoked, Code: CodeInvalidGrant, RequestID: fxHdrReqID}},
		{name: "token invalid_grant notion shape", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_grant_notion.json", msg: "this code has been revoked",
			want: Error{Kind: AuthRevoked, Code: CodeInvalidGrant, RequestID: fxOAuthReqID}},
		{name: "token invalid_grant oauth shape without a request id", status: 400, method: "POST", url: "/v1/oauth/token",
			header: http.Header{"Content-Type": {"application/json"}, "Cf-Ray": {fxRay}},
			file:   "oauth/invalid_grant_oauth.json",
			want:   Error{Kind: AuthRevoked, Code: CodeInvalidGrant}},
		{name: "token invalid_grant behind a proxy prefix", status: 400, method: "POST", url: "/notion/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_grant_oauth.json",
			want: Error{Kind: AuthRevoked, Code: CodeInvalidGrant, RequestID: fxHdrReqID}},
		{name: "token invalid_client oauth shape", status: 401, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_client_oauth.json", msg: "client credentials",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidClient, RequestID: fxHdrReqID}},
		{name: "token invalid_client notion shape", status: 401, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_client_notion.json", msg: "client credentials",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidClient, RequestID: fxOAuthReqID}},
		{name: "token invalid_request oauth shape", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_request_oauth.json", msg: "redirect_uri is required.",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidRequest, RequestID: fxHdrReqID}},
		{name: "token invalid_request notion shape", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/invalid_request_notion.json",
			want: Error{Kind: InvalidRequest, Code: CodeInvalidRequest, RequestID: fxOAuthReqID}},
		{name: "token unsupported_grant_type oauth shape", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/unsupported_grant_type_oauth.json",
			want: Error{Kind: InvalidRequest, Code: CodeUnsupportedGrantType, RequestID: fxHdrReqID}},
		{name: "token unsupported_grant_type notion shape", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/unsupported_grant_type_notion.json",
			want: Error{Kind: InvalidRequest, Code: CodeUnsupportedGrantType, RequestID: fxOAuthReqID}},
		{name: "token unauthorized_client", status: 400, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/unauthorized_client_oauth.json",
			want: Error{Kind: InvalidRequest, Code: CodeUnauthorizedClient, RequestID: fxHdrReqID}},
		{name: "token 401 unauthorized is the client, not a token", status: 401, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "oauth/unauthorized_notion.json",
			want: Error{Kind: InvalidRequest, Code: CodeUnauthorized, RequestID: fxOAuthReqID}},
		{name: "introspect 401 unauthorized", status: 401, method: "POST", url: "/v1/oauth/introspect", header: notionHdr(),
			file: "oauth/unauthorized_notion.json",
			want: Error{Kind: InvalidRequest, Code: CodeUnauthorized, RequestID: fxOAuthReqID}},
		{name: "revoke 401 unauthorized", status: 401, method: "POST", url: "/v1/oauth/revoke", header: notionHdr(),
			file: "oauth/unauthorized_notion.json",
			want: Error{Kind: InvalidRequest, Code: CodeUnauthorized, RequestID: fxOAuthReqID}},
		{name: "token 429", status: 429, method: "POST", url: "/v1/oauth/token", header: notionHdr("Retry-After", "12"),
			file: "notion/rate_limited.json",
			want: Error{Kind: Throttled, Code: CodeRateLimited, Reason: ReasonRequestRateLimit, RetryAfter: 12 * time.Second, RequestID: fxBodyReqID}},
		{name: "token 503", status: 503, method: "POST", url: "/v1/oauth/token", header: notionHdr(),
			file: "notion/service_unavailable.json",
			want: Error{Kind: Unavailable, Code: CodeServiceUnavailable, RequestID: fxBodyReqID}},
		{name: "token cloudflare 403", status: 403, method: "POST", url: "/v1/oauth/token", header: edgeHdr(),
			file: "edge/cloudflare_block_403.html",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},

		// Bad input.
		{name: "400 empty body", status: 400, url: "/v1/users/me", header: header(nil, "Content-Type", "application/json"),
			want: Error{Kind: InvalidRequest, Reason: ReasonEdge}},
		{name: "401 empty body is not token loss", status: 401, url: "/v1/users/me", header: header(nil, "Content-Type", "application/json"),
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "404 empty body is not permission loss", status: 404, url: "/v1/pages/" + fxPage, header: http.Header{},
			want: Error{Kind: InvalidRequest, Reason: ReasonEdge}},
		{name: "401 truncated json", status: 401, url: "/v1/users/me", header: notionHdr(),
			body: `{"object":"error","status":401,"code":"unauthorized","mess`,
			want: Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "404 truncated json", status: 404, url: "/v1/pages/" + fxPage, header: notionHdr(),
			body: `{"object":"error","status":404,"code":"object_not_found"`,
			want: Error{Kind: InvalidRequest, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "401 json array", status: 401, url: "/v1/users/me", header: notionHdr(),
			body: `[{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}]`,
			want: Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "404 json null", status: 404, url: "/v1/pages/" + fxPage, header: notionHdr(), body: "null",
			want: Error{Kind: InvalidRequest, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "404 empty json object", status: 404, url: "/v1/pages/" + fxPage, header: notionHdr(), body: "{}",
			want: Error{Kind: InvalidRequest, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "401 json that is not an error", status: 401, url: "/v1/users/me", header: notionHdr(),
			body: `{"object":"list","results":[]}`,
			want: Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "404 json served as text/html", status: 404, url: "/v1/pages/" + fxPage, header: notionHdr("Content-Type", "text/html"),
			file: "notion/object_not_found.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "401 json without content-type", status: 401, url: "/v1/users/me", header: notionHdr("Content-Type", ""),
			file: "notion/unauthorized.json",
			want: Error{Kind: AuthRevoked, Code: CodeUnauthorized, RequestID: fxBodyReqID}},
		{name: "502 html served as json", status: 502, url: "/v1/pages/" + fxPage, header: edgeHdr("Content-Type", "application/json"),
			file: "edge/bad_gateway_502.html", msg: "502 Bad Gateway",
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "404 status as string, code as number", status: 404, method: "POST", url: "/v1/pages", header: notionHdr(),
			file: "notion/wrong_types.json",
			want: Error{Kind: PermissionLost, ObjectID: fxPage, RequestID: fxHdrReqID}},
		{name: "403 binary garbage", status: 403, url: "/v1/pages/" + fxPage, header: header(nil, "Content-Type", "application/octet-stream"),
			body: "\x00\xff\xfe{\x01\x80<title>\xc3",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "403 latin-1 proxy page", status: 403, url: "/v1/pages/" + fxPage, header: edgeHdr("Cf-Ray", ""),
			body: "<html><!-- F\xfcr Sie gesperrt: \xdcberpr\xfcfung l\xe4uft, bitte sp\xe4ter erneut versuchen. Gr\xfc\xdfe --><title>Zugriff verweigert</title>",
			msg:  ": Zugriff verweigert",
			want: Error{Kind: Blocked, Reason: ReasonEdge}},
		{name: "502 page whose lower case is shorter", status: 502, url: "/v1/pages/" + fxPage, header: edgeHdr(),
			body: "<html><!-- \u0130\u0130\u0130\u0130\u212a\u212a --><title>Proxy Error</title></html>",
			msg:  ": Proxy Error",
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "401 nil body", status: 401, url: "/v1/users/me", header: notionHdr(), nilBody: true,
			want: Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{name: "429 nil body", status: 429, url: "/v1/users", header: notionHdr("Retry-After", "7"), nilBody: true,
			want: Error{Kind: Throttled, Reason: ReasonEdge, RetryAfter: 7 * time.Second, RequestID: fxHdrReqID}},
		{name: "503 nil body", status: 503, url: "/v1/users", header: edgeHdr(), nilBody: true,
			want: Error{Kind: Unavailable, Reason: ReasonEdge}},
		{name: "404 without request", status: 404, header: notionHdr(), noRequest: true,
			file: "notion/object_not_found_page.json",
			want: Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxPage, RequestID: fxBodyReqID}},
		{name: "401 without request", status: 401, header: notionHdr(), noRequest: true,
			file: "notion/unauthorized.json",
			want: Error{Kind: AuthRevoked, Code: CodeUnauthorized, RequestID: fxBodyReqID}},
		{name: "nil header", status: 401, url: "/v1/users/me", header: nil, file: "notion/unauthorized.json",
			want: Error{Kind: AuthRevoked, Code: CodeUnauthorized, RequestID: fxBodyReqID}},
	}
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range checkCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tc.file != "" {
				body = readTestdata(t, tc.file)
			} else {
				body = []byte(tc.body)
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			resp := newTestResponse(t, tc.status, method, fxAPI+tc.url, tc.header, body)
			if tc.nilBody {
				resp.Body = nil
			}
			if tc.noRequest {
				resp.Request = nil
			}

			e := checkError(t, resp)

			assert.Equal(t, tc.want.Kind, e.Kind, "Kind")
			assert.Equal(t, tc.status, e.StatusCode, "StatusCode")
			assert.Equal(t, tc.want.Code, e.Code, "Code")
			assert.Equal(t, tc.want.Reason, e.Reason, "Reason")
			assert.Equal(t, tc.want.RetryAfter, e.RetryAfter, "RetryAfter")
			assert.Equal(t, tc.want.ObjectID, e.ObjectID, "ObjectID")
			assert.Equal(t, tc.want.RequestID, e.RequestID, "RequestID")
			if tc.msg != "" {
				assert.Contains(t, e.Message, tc.msg, "Message")
			}
			if tc.noRequest {
				assert.Empty(t, e.Method, "Method")
				assert.Empty(t, e.Path, "Path")
			} else {
				assert.Equal(t, method, e.Method, "Method")
				assert.Equal(t, resp.Request.URL.Path, e.Path, "Path")
			}
			assert.Zero(t, e.Attempts, "Attempts")
			assert.NoError(t, e.Err, "Err")

			// Invariants of every answer.
			if e.Reason == ReasonEdge {
				assert.NotEqual(t, AuthRevoked, e.Kind, "an edge answer is never token loss")
				assert.NotEqual(t, PermissionLost, e.Kind, "an edge answer is never permission loss")
				assert.Empty(t, e.Code, "an edge answer has no Notion code")
			}
			if e.ObjectID != "" {
				assert.Regexp(t, uuidRE, e.ObjectID)
			}
			msg := e.Error()
			assert.True(t, strings.HasPrefix(msg, "notionauth: "), "Error() = %q", msg)
			assert.NotContains(t, msg, "\n")
			if resp.Request != nil && resp.Request.URL.RawQuery != "" {
				assert.NotContains(t, msg, "?")
				assert.NotContains(t, msg, resp.Request.URL.RawQuery)
			}
			if !tc.nilBody {
				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.Equal(t, body, got, "resp.Body after CheckResponse")
			}
		})
	}
}

// TestCheckResponseFixturesCovered makes sure every fixture is used by a
// CheckResponse case, so that none rots unread.
func TestCheckResponseFixturesCovered(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, tc := range checkCases() {
		used[tc.file] = true
	}
	for _, dir := range []string{"notion", "edge", "oauth"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		require.NoError(t, err)
		require.NotEmpty(t, files, dir)
		for _, f := range files {
			name := dir + "/" + filepath.Base(f)
			assert.True(t, used[name], "fixture %s is used by no CheckResponse case", name)
		}
	}
}

// TestClassifyRetryAfterHTTPDate: an HTTP-date Retry-After is read
// relative to the time classify is given, not a clock of its own.
func TestClassifyRetryAfterHTTPDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, time.June, 3, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"future IMF-fixdate", now.Add(42 * time.Second).Format(http.TimeFormat), 42 * time.Second},
		{"future RFC 850", now.Add(2 * time.Minute).Format(time.RFC850), 2 * time.Minute},
		{"future asctime", now.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second},
		{"now", now.Format(http.TimeFormat), 0},
		{"past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"far future is capped", now.Add(72 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
		{"malformed date", "Tue, 31 Foo 2025 10:30:00 GMT", 0},
	}
	body := readTestdata(t, "notion/rate_limited_plain.json")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := classify(429, notionHdr("Retry-After", tc.retryAfter), body, "GET", "/v1/users", "", now)
			assert.Equal(t, Throttled, e.Kind)
			assert.Equal(t, tc.want, e.RetryAfter)
		})
	}
}

// TestCheckResponseRetryAfterHTTPDate: CheckResponse, which has no clock
// to be given, reads an HTTP-date against the current time.
func TestCheckResponseRetryAfterHTTPDate(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	resp := newTestResponse(t, 429, "GET", fxAPI+"/v1/users", notionHdr("Retry-After", date),
		readTestdata(t, "notion/rate_limited_plain.json"))
	e := checkError(t, resp)
	assert.Equal(t, Throttled, e.Kind)
	// The date has whole seconds, and the test may be slow: about an hour.
	assert.InDelta(t, time.Hour, e.RetryAfter, float64(time.Minute), "RetryAfter = %v", e.RetryAfter)
}

func TestCheckResponseSuccessIsNil(t *testing.T) {
	t.Parallel()
	for _, status := range []int{100, 200, 201, 202, 204, 206, 299, 300, 301, 302, 304, 307, 308, 399} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			// Even an error-looking body: the status decides.
			body := &countingBody{r: bytes.NewReader(readTestdata(t, "notion/unauthorized.json"))}
			resp := newTestResponse(t, status, "GET", fxAPI+"/v1/users/me", notionHdr(), nil)
			resp.Body = body
			assert.NoError(t, CheckResponse(resp))
			assert.Same(t, body, resp.Body, "a success's body is left untouched")
			assert.Zero(t, body.n, "a success's body is not read")
		})
	}
}

func TestCheckResponseNilResponse(t *testing.T) {
	t.Parallel()
	var err error
	require.NotPanics(t, func() { err = CheckResponse(nil) })
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "got %T, want *Error", err)
	assert.Equal(t, InvalidRequest, e.Kind)
	assert.True(t, strings.HasPrefix(e.Error(), "notionauth: "), e.Error())
}

func TestCheckResponseRequestWithoutURL(t *testing.T) {
	t.Parallel()
	resp := newTestResponse(t, 404, "GET", fxAPI+"/v1/pages/"+fxPage, notionHdr(), readTestdata(t, "notion/object_not_found_page.json"))
	resp.Request.URL = nil
	e := checkError(t, resp)
	assert.Equal(t, PermissionLost, e.Kind)
	assert.Equal(t, "GET", e.Method)
	assert.Empty(t, e.Path)
	assert.Equal(t, fxPage, e.ObjectID, "the id still comes from the message")
}

// countingBody counts the bytes read from it and its Close calls.
type countingBody struct {
	r      io.Reader
	n      int64
	closes int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { c.closes++; return nil }

// TestCheckResponseRestoresBody: after CheckResponse the caller reads the
// same bytes, and closing resp.Body closes the original body.
func TestCheckResponseRestoresBody(t *testing.T) {
	t.Parallel()
	var files []string
	for _, dir := range []string{"notion", "edge", "oauth"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.ToSlash(f), func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, status := range []int{401, 403, 404, 429, 503} {
				orig := &countingBody{r: bytes.NewReader(body)}
				resp := newTestResponse(t, status, "GET", fxAPI+"/v1/pages/"+fxPage, notionHdr(), nil)
				resp.Body = orig
				require.Error(t, CheckResponse(resp))
				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.Equal(t, body, got)
				assert.Zero(t, orig.closes, "CheckResponse must not close the body")
				require.NoError(t, resp.Body.Close())
				assert.Equal(t, 1, orig.closes, "closing resp.Body closes the original once")
			}
		})
	}
}

// TestCheckResponseLargeBody: a body over 1 MiB is classified without being
// parsed, only 1 MiB+1 bytes of it are read, and it stays readable in full.
func TestCheckResponseLargeBody(t *testing.T) {
	t.Parallel()
	notFound := readTestdata(t, "notion/object_not_found.json")
	pad := func(b []byte, size int, fill byte) []byte {
		out := append([]byte(nil), b...)
		return append(out, bytes.Repeat([]byte{fill}, size-len(b))...)
	}
	longMessage := []byte(`{"object":"error","status":404,"code":"object_not_found","message":"` +
		strings.Repeat("x", 2<<20) + `","request_id":"` + fxBodyReqID + `"}`)

	tests := []struct {
		name   string
		status int
		header http.Header
		body   []byte
		want   Error
	}{
		{"2 MiB html", 502, edgeHdr(),
			pad([]byte("<html><head><title>502 Bad Gateway</title></head><body>"), 2<<20, 'x'),
			Error{Kind: Unavailable, Reason: ReasonEdge}},
		{"json message over 1 MiB", 404, notionHdr(), longMessage,
			Error{Kind: InvalidRequest, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{"valid json padded past 1 MiB is not parsed", 404, notionHdr(), pad(notFound, maxErrorBody+2, ' '),
			Error{Kind: InvalidRequest, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{"valid json padded past 1 MiB on a 401 is not token loss", 401, notionHdr(),
			pad(readTestdata(t, "notion/unauthorized.json"), 3<<20, '\n'),
			Error{Kind: Blocked, Reason: ReasonEdge, RequestID: fxHdrReqID}},
		{"exactly 1 MiB is parsed", 404, notionHdr(), pad(notFound, maxErrorBody, ' '),
			Error{Kind: PermissionLost, Code: CodeObjectNotFound, ObjectID: fxPage, RequestID: fxBodyReqID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orig := &countingBody{r: bytes.NewReader(tc.body)}
			resp := newTestResponse(t, tc.status, "GET", fxAPI+"/v1/pages/"+fxPage, tc.header, nil)
			resp.Body = orig

			e := checkError(t, resp)
			assert.LessOrEqual(t, orig.n, int64(maxErrorBody+1), "CheckResponse read too much")
			assert.Equal(t, tc.want.Kind, e.Kind)
			assert.Equal(t, tc.want.Code, e.Code)
			assert.Equal(t, tc.want.Reason, e.Reason)
			assert.Equal(t, tc.want.ObjectID, e.ObjectID)
			assert.Equal(t, tc.want.RequestID, e.RequestID)
			assert.LessOrEqual(t, len(e.Error()), 2*maxMessage+256, "Error() stays short")

			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, len(tc.body), len(got))
			assert.True(t, bytes.Equal(tc.body, got), "the body is not the same after CheckResponse")
			assert.Equal(t, int64(len(tc.body)), orig.n)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, 1, orig.closes)
		})
	}
}

// errAfterReader returns its data, then err.
type errAfterReader struct {
	data []byte
	err  error
}

func (r *errAfterReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestCheckResponseReadError(t *testing.T) {
	t.Parallel()
	cause := errors.New("read tcp 10.0.0.1:443: connection reset by peer")
	resp := newTestResponse(t, 401, "GET", fxAPI+"/v1/users/me", notionHdr(), nil)
	resp.Body = io.NopCloser(&errAfterReader{data: []byte(`{"object":"error","status":401,"co`), err: cause})

	e := checkError(t, resp)
	assert.Equal(t, Blocked, e.Kind, "a cut body is not proof of token loss")
	assert.Equal(t, ReasonEdge, e.Reason)
	assert.ErrorIs(t, e, cause)
	assert.Contains(t, e.Error(), "connection reset by peer")

	got, err := io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, cause, "the read error is replayed to the caller")
	assert.Equal(t, `{"object":"error","status":401,"co`, string(got))
}

var allSentinels = map[Kind]error{
	AuthRevoked:    ErrAuthRevoked,
	Throttled:      ErrThrottled,
	PermissionLost: ErrPermissionLost,
	Blocked:        ErrBlocked,
	InvalidRequest: ErrInvalidRequest,
	Conflict:       ErrConflict,
	Unavailable:    ErrUnavailable,
}

func TestErrorIsSentinels(t *testing.T) {
	t.Parallel()
	kinds := []Kind{Unclassified, AuthRevoked, Throttled, PermissionLost, Blocked, InvalidRequest, Conflict, Unavailable, Canceled, Kind(42), Kind(-1)}
	wraps := []struct {
		name string
		wrap func(error) error
	}{
		{"direct", func(err error) error { return err }},
		{"url.Error", func(err error) error {
			return &url.Error{Op: "Get", URL: fxAPI + "/v1/users/me", Err: err}
		}},
		{"fmt.Errorf", func(err error) error { return fmt.Errorf("sync workspace: %w", err) }},
		{"fmt.Errorf of url.Error", func(err error) error {
			return fmt.Errorf("sync workspace: %w", &url.Error{Op: "Post", URL: fxAPI + "/v1/search", Err: err})
		}},
		{"errors.Join", func(err error) error { return errors.Join(errors.New("other"), err) }},
	}
	for _, k := range kinds {
		for _, w := range wraps {
			t.Run(k.String()+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				err := w.wrap(&Error{Kind: k, StatusCode: 400})
				for sk, s := range allSentinels {
					assert.Equal(t, sk == k, errors.Is(err, s), "errors.Is(%s error, %v)", k, s)
				}
			})
		}
	}
}

// exportedSentinels is every ErrX that Error.Is may match.
var exportedSentinels = []error{
	ErrAuthRevoked, ErrThrottled, ErrPermissionLost, ErrBlocked, ErrInvalidRequest, ErrConflict, ErrUnavailable,
}

// TestErrorIsExactlyOneSentinel: for every Kind, an *Error matches exactly
// one exported sentinel (none for Unclassified and Canceled), wrapped or
// not, and no two Kinds share one.
func TestErrorIsExactlyOneSentinel(t *testing.T) {
	t.Parallel()
	wraps := []struct {
		name string
		wrap func(error) error
	}{
		{"direct", func(err error) error { return err }},
		{"url.Error", func(err error) error { return &url.Error{Op: "Get", URL: fxAPI + "/v1/users/me", Err: err} }},
		{"fmt.Errorf", func(err error) error { return fmt.Errorf("sync workspace: %w", err) }},
		{"fmt.Errorf of url.Error", func(err error) error {
			return fmt.Errorf("sync workspace: %w", &url.Error{Op: "Post", URL: fxAPI + "/v1/search", Err: err})
		}},
	}
	owner := map[error]Kind{}
	// Every named Kind, so that one added later is checked too.
	for k := Kind(0); int(k) < len(kindNames); k++ {
		want := 1
		if k == Unclassified || k == Canceled {
			want = 0
		}
		for _, w := range wraps {
			// A cause that is itself a Kind's business must not add a
			// match through Unwrap.
			err := w.wrap(&Error{Kind: k, StatusCode: 400, Err: context.Canceled})
			var matched []error
			for _, s := range exportedSentinels {
				if errors.Is(err, s) {
					matched = append(matched, s)
				}
			}
			require.Len(t, matched, want, "%v (%s) matches %v", k, w.name, matched)
			if want == 1 {
				assert.Equal(t, "notionauth: "+k.String(), matched[0].Error(), "%v matches the sentinel of another Kind", k)
				if prev, ok := owner[matched[0]]; ok {
					assert.Equal(t, prev, k, "%v and %v share the sentinel %v", prev, k, matched[0])
				}
				owner[matched[0]] = k
			}
		}
	}
	assert.Len(t, owner, len(exportedSentinels), "a sentinel no Kind matches")
}

func TestErrorAs(t *testing.T) {
	t.Parallel()
	orig := &Error{Kind: PermissionLost, StatusCode: 404, Code: CodeObjectNotFound, ObjectID: fxPage}
	for name, err := range map[string]error{
		"url.Error":               &url.Error{Op: "Get", URL: fxAPI + "/v1/pages/" + fxPage, Err: orig},
		"fmt.Errorf":              fmt.Errorf("load page: %w", orig),
		"fmt.Errorf of url.Error": fmt.Errorf("load page: %w", &url.Error{Op: "Get", URL: fxAPI, Err: orig}),
		"errors.Join":             errors.Join(io.EOF, orig),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var e *Error
			require.True(t, errors.As(err, &e))
			assert.Same(t, orig, e)
			assert.Equal(t, fxPage, e.ObjectID)
		})
	}
}

// canceledCtx returns a context that is already cancelled.
func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestKindValues: the Kinds' values are part of the API (apps store and
// compare them), so a new Kind goes at the end.
func TestKindValues(t *testing.T) {
	t.Parallel()
	for want, k := range []Kind{Unclassified, AuthRevoked, Throttled, PermissionLost, Blocked, InvalidRequest, Conflict, Unavailable, Canceled} {
		assert.Equal(t, want, int(k), "%v", k)
	}
}

func TestErrorCanceled(t *testing.T) {
	t.Parallel()
	e := &Error{Kind: Canceled, Method: "GET", Path: "/v1/users/me", Message: "no response", Err: context.Canceled}
	var err error = &url.Error{Op: "Get", URL: fxAPI + "/v1/users/me", Err: e}
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	for k, s := range allSentinels {
		assert.NotErrorIs(t, err, s, "a Canceled error matches the sentinel of %v", k)
	}
	assert.Equal(t, Canceled, KindOf(err))
	assert.Equal(t, "notionauth: GET /v1/users/me: canceled: no response: context canceled", e.Error())
}

func TestErrorUnwrap(t *testing.T) {
	t.Parallel()
	e := &Error{Kind: Unavailable, Err: fmt.Errorf("dial: %w", context.DeadlineExceeded)}
	assert.ErrorIs(t, e, context.DeadlineExceeded)
	assert.ErrorIs(t, e, ErrUnavailable)
	assert.NotErrorIs(t, e, context.Canceled)
	assert.Nil(t, (&Error{Kind: Throttled}).Unwrap())
}

func TestKindString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind Kind
		want string
	}{
		{Unclassified, "unclassified"},
		{AuthRevoked, "auth revoked"},
		{Throttled, "throttled"},
		{PermissionLost, "permission lost"},
		{Blocked, "blocked"},
		{InvalidRequest, "invalid request"},
		{Conflict, "conflict"},
		{Unavailable, "unavailable"},
		{Canceled, "canceled"},
		{Canceled + 1, "Kind(9)"},
		{Kind(-1), "Kind(-1)"},
		{Kind(1 << 20), "Kind(1048576)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.kind.String())
			assert.Equal(t, tc.want, fmt.Sprint(tc.kind))
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"permission lost",
			&Error{Kind: PermissionLost, StatusCode: 404, Code: CodeObjectNotFound, Message: "Could not find page.",
				Method: "GET", Path: "/v1/pages/" + fxPage, ObjectID: fxPage, RequestID: fxBodyReqID},
			"notionauth: GET /v1/pages/" + fxPage + ": permission lost (404 object_not_found): Could not find page."},
		{"throttled with retry after and attempts",
			&Error{Kind: Throttled, StatusCode: 429, Code: CodeRateLimited, Message: "You have been rate limited.",
				Method: "POST", Path: "/v1/search", RetryAfter: 12 * time.Second, Attempts: 3},
			"notionauth: POST /v1/search: throttled (429 rate_limited): You have been rate limited.; retry after 12s; 3 attempts"},
		{"network failure",
			&Error{Kind: Unavailable, Method: "GET", Path: "/v1/users/me", Message: "no response", Attempts: 1,
				Err: errors.New("dial tcp 127.0.0.1:443: connect: connection refused")},
			"notionauth: GET /v1/users/me: unavailable: no response: dial tcp 127.0.0.1:443: connect: connection refused"},
		{"status without code", &Error{Kind: Unavailable, StatusCode: 502, Reason: ReasonEdge},
			"notionauth: unavailable (502)"},
		{"code without status", &Error{Kind: AuthRevoked, Code: CodeInvalidGrant},
			"notionauth: auth revoked (invalid_grant)"},
		{"path only", &Error{Kind: Blocked, StatusCode: 403, Path: "/v1/pages"},
			"notionauth: /v1/pages: blocked (403)"},
		{"zero", &Error{}, "notionauth: unclassified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.err.Error())
			assert.Equal(t, tc.want, fmt.Sprint(tc.err))
		})
	}
}

// TestErrorStringFromResponse: Error() names kind, status, code, method and
// path, on one line, and never the query string.
func TestErrorStringFromResponse(t *testing.T) {
	t.Parallel()
	const query = "page_size=100&start_cursor=c0ffee&filter=secret"
	resp := newTestResponse(t, 404, "GET", fxAPI+"/v1/blocks/"+fxPage+"/children?"+query, notionHdr(),
		readTestdata(t, "notion/object_not_found.json"))
	msg := checkError(t, resp).Error()
	assert.True(t, strings.HasPrefix(msg, "notionauth: "), msg)
	for _, want := range []string{"GET", "/v1/blocks/" + fxPage + "/children", "permission lost", "404", "object_not_found"} {
		assert.Contains(t, msg, want)
	}
	for _, not := range []string{"?", "page_size", "start_cursor", "c0ffee", "\n", "\r"} {
		assert.NotContains(t, msg, not)
	}
}

func TestErrorOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
	}{
		{"newline in message", &Error{Kind: InvalidRequest, StatusCode: 400, Message: "first line\nsecond line\r\nthird"}},
		{"control characters", &Error{Kind: InvalidRequest, StatusCode: 400, Message: "a\x00b\x1bc\x7fd\te"}},
		{"newline in code", &Error{Kind: InvalidRequest, StatusCode: 400, Code: "bad\ncode"}},
		{"newline in cause", &Error{Kind: Unavailable, Err: errors.New("proxy said:\n502 Bad Gateway")}},
		{"newline in path", &Error{Kind: PermissionLost, StatusCode: 404, Method: "GET", Path: "/v1/pages/\nforged: line"}},
		{"newline in method", &Error{Kind: PermissionLost, StatusCode: 404, Method: "GET\nX", Path: "/v1/pages"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range []string{tc.err.Error(), fmt.Sprintf("%+v", tc.err), fmt.Sprintf("%#v", tc.err)} {
				assert.NotContains(t, s, "\n")
				assert.NotContains(t, s, "\r")
				assert.False(t, strings.ContainsFunc(s, isControl), "%q has a control character", s)
			}
		})
	}
	e := &Error{Kind: InvalidRequest, StatusCode: 400, Message: "first line\nsecond line"}
	assert.Contains(t, e.Error(), "first line second line", "a newline becomes a space")
}

func TestErrorLongMessageIsCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 10_000) // two bytes a rune: the cut must not split one
	e := &Error{Kind: InvalidRequest, StatusCode: 400, Code: strings.Repeat("c", 1000), Message: long,
		Err: errors.New(strings.Repeat("z", 10_000))}
	s := e.Error()
	assert.Less(t, len(s), 3*maxMessage, "Error() is %d bytes", len(s))
	assert.Contains(t, s, "…")
	assert.True(t, strings.Contains(s, strings.Repeat("é", 100)))
	assert.NotContains(t, s, strings.Repeat("é", maxMessage))
	assert.True(t, utf8Valid(s), "the cut split a rune")
	assert.Less(t, len(fmt.Sprintf("%#v", e)), 4*maxMessage)
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestErrorNeverPrintsTokens: whatever leaks into Message or the cause, no
// way of printing an *Error shows a token.
func TestErrorNeverPrintsTokens(t *testing.T) {
	t.Parallel()
	for _, tok := range fxSecrets {
		t.Run(tok[:4], func(t *testing.T) {
			t.Parallel()
			e := &Error{
				Kind: AuthRevoked, StatusCode: 401, Code: CodeUnauthorized,
				Message:   "API token is invalid: Bearer " + tok + ".",
				RequestID: fxBodyReqID, Method: "GET", Path: "/v1/users/me",
				Err: fmt.Errorf("wrapped: %w", errors.New("dial: Authorization: Bearer "+tok+"\n")),
			}
			wrapped := &url.Error{Op: "Get", URL: fxAPI + "/v1/users/me", Err: e}
			prints := map[string]string{
				"Error()":  e.Error(),
				"%v":       fmt.Sprintf("%v", e),
				"%+v":      fmt.Sprintf("%+v", e),
				"%s":       fmt.Sprintf("%s", e),
				"%q":       fmt.Sprintf("%q", e),
				"%#v":      fmt.Sprintf("%#v", e),
				"GoString": e.GoString(),
				"url %v":   fmt.Sprintf("%v", wrapped),
				"url %+v":  fmt.Sprintf("%+v", wrapped),
				"fmt %v":   fmt.Sprintf("%v", fmt.Errorf("sync: %w", wrapped)),
			}
			secret := tok[strings.IndexByte(tok, '_')+1:]
			for how, s := range prints {
				assert.NotContains(t, s, tok, how)
				assert.NotContains(t, s, secret, how)
				assert.Contains(t, s, "[redacted]", how)
			}
		})
	}
}

func TestRedactTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"internal secret", "token " + fxSecrets[0] + " is bad", "token [redacted] is bad"},
		{"ntn token", "Bearer " + fxSecrets[1], "Bearer [redacted]"},
		{"refresh token", fxSecrets[2] + ".", "[redacted]."},
		{"two tokens", fxSecrets[0] + "," + fxSecrets[1], "[redacted],[redacted]"},
		{"token in json", `{"access_token":"` + fxSecrets[1] + `"}`, `{"access_token":"[redacted]"}`},
		{"token in a word", "xx" + fxSecrets[1], "xx[redacted]"},
		{"eight characters is a token", "secret_abcdefgh", "[redacted]"},
		{"seven characters is not", "secret_abcdefg", "secret_abcdefg"},
		{"the word secret", "a secret_ of mine", "a secret_ of mine"},
		{"short then long", "ntn_ab ntn_abcdefghijkl", "ntn_ab [redacted]"},
		{"nested prefixes", "ntn_secret_abcdefghijkl", "ntn_[redacted]"},
		{"upper-case prefix is not Notion's", "SECRET_abcdefghijkl", "SECRET_abcdefghijkl"},
		{"nothing", "Could not find page.", "Could not find page."},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, redactTokens(tc.in))
		})
	}
}

// TestRedactTokensIsLinear: a hostile 1 MiB message full of token-like
// words must not take quadratic time to print.
func TestRedactTokensIsLinear(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("secret_abcdefghij ", (1<<20)/18)
	start := time.Now()
	out := redactTokens(s)
	elapsed := time.Since(start)
	assert.NotContains(t, out, "secret_abcdefghij")
	assert.Less(t, elapsed, 2*time.Second, "redactTokens took %v on 1 MiB", elapsed)
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "hello", 10, "hello"},
		{"exact", "hello", 5, "hello"},
		{"cut", "hello world", 5, "hello…"},
		{"cut on a rune boundary", "héllo", 2, "h…"},
		{"newlines", "a\nb\r\nc", 10, "a b  c"},
		{"tab and nul", "a\tb\x00c", 10, "a b c"},
		{"redacted before the cut", "x " + fxSecrets[1], 20, "x [redacted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, oneLine(tc.in, tc.max))
		})
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"dashed", fxPage, fxPage, true},
		{"undashed", fxPageRaw, fxPage, true},
		{"upper undashed", fxPageUpper, fxPage, true},
		{"upper dashed", fxBlockUp, fxBlock, true},
		{"empty", "", "", false},
		{"too short", fxPageRaw[:31], "", false},
		{"too long", fxPageRaw + "0", "", false},
		{"non-hex", "g" + fxPageRaw[1:], "", false},
		{"dash misplaced", "1c2b3a4d5-e6f-4a7b-8c9d-0e1f2a3b4c5d", "", false},
		{"dashes elsewhere", "1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5-", "", false},
		{"36 without dashes", fxPageRaw + "abcd", "", false},
		{"spaces", " " + fxPage[1:], "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseID(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFindID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"notion message", "Could not find page with ID: " + fxPage + ". Make sure ...", fxPage},
		{"undashed", "Could not find database with ID: " + fxDBRaw + ".", fxDB},
		{"upper case", "block " + fxBlockUp, fxBlock},
		{"in parentheses", "(" + fxPageRaw + ")", fxPage},
		{"at the start", fxPage + " is gone", fxPage},
		{"notion url slug", "https://www.notion.so/My-Page-" + fxPageRaw, fxPage},
		{"first of two", fxDB + " and " + fxPage, fxDB},
		{"part of a longer hex run", "a" + fxPageRaw, ""},
		{"followed by more hex", fxPageRaw + "0", ""},
		{"inside a word", "id_" + fxPageRaw, ""},
		{"none", "Could not find object.", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, findID(tc.in))
		})
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: fxAPI + "/v1/users/me", Err: err} }
	notionMsg := func(status int, code, msg string) error {
		return &notionapi.Error{Object: "error", Status: status, Code: notionapi.ErrorCode(code), Message: msg}
	}
	notionErr := func(status int, code string) error { return notionMsg(status, code, "m") }
	retrieve := func(status int, code string, body string) error {
		re := &oauth2.RetrieveError{ErrorCode: code, Body: []byte(body)}
		if status != 0 {
			re.Response = &http.Response{StatusCode: status}
		}
		return re
	}
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}

	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, Unclassified},
		{"*Error", &Error{Kind: Throttled}, Throttled},
		{"*Error in url.Error", urlErr(&Error{Kind: AuthRevoked}), AuthRevoked},
		{"*Error in fmt.Errorf", fmt.Errorf("load: %w", &Error{Kind: PermissionLost}), PermissionLost},
		{"*Error in errors.Join", errors.Join(errors.New("other"), &Error{Kind: Blocked}), Blocked},
		{"*Error wins over its cause", &Error{Kind: Conflict, Err: context.Canceled}, Conflict},

		{"notionapi 400 validation_error", notionErr(400, CodeValidation), InvalidRequest},
		{"notionapi 400 invalid_json", notionErr(400, CodeInvalidJSON), InvalidRequest},
		{"notionapi 400 invalid_request_url", notionErr(400, CodeInvalidRequestURL), InvalidRequest},
		{"notionapi 400 invalid_request", notionErr(400, CodeInvalidRequest), InvalidRequest},
		{"notionapi 400 missing_version", notionErr(400, CodeMissingVersion), InvalidRequest},
		{"notionapi 401 unauthorized", notionErr(401, CodeUnauthorized), AuthRevoked},
		{"notionapi 403 restricted_resource", notionErr(403, CodeRestrictedResource), PermissionLost},
		{"notionapi 404 object_not_found", notionErr(404, CodeObjectNotFound), PermissionLost},
		{"notionapi 409 conflict_error", notionErr(409, CodeConflict), Conflict},
		{"notionapi 429 rate_limited", notionErr(429, CodeRateLimited), Throttled},
		{"notionapi 500", notionErr(500, CodeInternalServerError), Unavailable},
		{"notionapi 502", notionErr(502, CodeBadGateway), Unavailable},
		{"notionapi 503", notionErr(503, CodeServiceUnavailable), Unavailable},
		{"notionapi 503 database_connection_unavailable", notionErr(503, CodeDatabaseUnavailable), Unavailable},
		{"notionapi 504", notionErr(504, CodeGatewayTimeout), Unavailable},
		{"notionapi 529", notionErr(529, CodeServiceOverload), Throttled},
		{"notionapi 418 unknown code", notionErr(418, "teapot"), InvalidRequest},
		{"notionapi 0 unauthorized", notionErr(0, CodeUnauthorized), AuthRevoked},
		{"notionapi 0 restricted_resource", notionErr(0, CodeRestrictedResource), PermissionLost},
		{"notionapi 0 object_not_found", notionErr(0, CodeObjectNotFound), PermissionLost},
		{"notionapi 0 conflict_error", notionErr(0, CodeConflict), Conflict},
		{"notionapi 0 rate_limited", notionErr(0, CodeRateLimited), Throttled},
		{"notionapi 0 validation_error", notionErr(0, CodeValidation), InvalidRequest},
		{"notionapi 0 invalid_beta", notionErr(0, "invalid_beta"), InvalidRequest},
		{"notionapi 0 internal_server_error", notionErr(0, CodeInternalServerError), Unavailable},
		{"notionapi 0 bad_gateway", notionErr(0, CodeBadGateway), Unavailable},
		{"notionapi 0 database_connection_unavailable", notionErr(0, CodeDatabaseUnavailable), Unavailable},
		{"notionapi 0 gateway_timeout", notionErr(0, CodeGatewayTimeout), Unavailable},
		{"notionapi 0 service_overload", notionErr(0, CodeServiceOverload), Throttled},
		{"notionapi 0 no code", notionErr(0, ""), Unclassified},
		{"notionapi 0 unknown code", notionErr(0, "something_new"), Unclassified},
		{"notionapi in fmt.Errorf", fmt.Errorf("query: %w", notionErr(404, CodeObjectNotFound)), PermissionLost},
		{"notionapi 403 missing capability", notionMsg(403, CodeRestrictedResource, "Insufficient permissions for this endpoint."), PermissionLost},
		{"notionapi 404 property id", notionMsg(404, CodeObjectNotFound, "Could not find property with ID: BJXS."), InvalidRequest},
		{"notionapi 404 property name", notionMsg(404, CodeObjectNotFound, "Could not find property with name or id: Status"), InvalidRequest},
		{"notionapi 0 property, status from the code", notionMsg(0, CodeObjectNotFound, "Could not find property with ID: BJXS."), InvalidRequest},
		{"notionapi 404 page", notionMsg(404, CodeObjectNotFound, "Could not find page with ID: "+fxPage+"."), PermissionLost},
		{"notionapi 404 data source", notionMsg(404, CodeObjectNotFound, "Could not find data source with ID: "+fxDS+"."), PermissionLost},
		{"notionapi RateLimitedError", &notionapi.RateLimitedError{Message: "Retry request with 429 response failed after 3 retries"}, Throttled},
		{"notionapi TokenCreateError invalid_grant", &notionapi.TokenCreateError{Code: CodeInvalidGrant, Message: "Invalid code."}, AuthRevoked},
		{"notionapi TokenCreateError invalid_client", &notionapi.TokenCreateError{Code: CodeInvalidClient}, InvalidRequest},
		{"notionapi TokenCreateError invalid_request", &notionapi.TokenCreateError{Code: CodeInvalidRequest}, InvalidRequest},
		{"notionapi TokenCreateError unsupported_grant_type", &notionapi.TokenCreateError{Code: CodeUnsupportedGrantType}, InvalidRequest},
		{"notionapi TokenCreateError unauthorized_client", &notionapi.TokenCreateError{Code: CodeUnauthorizedClient}, InvalidRequest},
		{"notionapi TokenCreateError without code", &notionapi.TokenCreateError{}, Unclassified},

		{"oauth2 invalid_grant", retrieve(0, CodeInvalidGrant, ""), AuthRevoked},
		{"oauth2 400 invalid_grant", retrieve(400, CodeInvalidGrant, ""), AuthRevoked},
		{"oauth2 invalid_grant in url.Error", urlErr(retrieve(400, CodeInvalidGrant, "")), AuthRevoked},
		{"oauth2 400 invalid_grant, notion-shaped body", retrieve(400, "",
			string(readTestdata(t, "oauth/invalid_grant_notion.json"))), AuthRevoked},
		{"oauth2 401 invalid_client", retrieve(401, CodeInvalidClient, ""), InvalidRequest},
		{"oauth2 401 without code is the client", retrieve(401, "", ""), InvalidRequest},
		{"oauth2 401 unauthorized, notion-shaped body", retrieve(401, "",
			string(readTestdata(t, "oauth/unauthorized_notion.json"))), InvalidRequest},
		{"oauth2 429", retrieve(429, "", ""), Throttled},
		{"oauth2 503", retrieve(503, "", "<html>"), Unavailable},
		{"oauth2 nothing known", retrieve(0, "", ""), Unclassified},

		{"net.OpError", opErr, Unavailable},
		{"net.OpError in url.Error", urlErr(opErr), Unavailable},
		{"net.DNSError", &net.DNSError{Err: "no such host", Name: "api.notion.com", IsNotFound: true}, Unavailable},
		{"unexpected EOF", urlErr(io.ErrUnexpectedEOF), Unavailable},
		{"deadline", context.DeadlineExceeded, Unavailable},
		{"deadline in url.Error", urlErr(context.DeadlineExceeded), Unavailable},
		{"canceled", context.Canceled, Canceled},
		{"canceled in url.Error", urlErr(context.Canceled), Canceled},
		{"canceled in fmt.Errorf", fmt.Errorf("sync: %w", context.Canceled), Canceled},
		{"canceled in errors.Join", errors.Join(errors.New("other"), context.Canceled), Canceled},
		{"canceled dial", &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}, Canceled},
		{"canceled dial in url.Error", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}), Canceled},
		{"cause of a canceled context", context.Cause(canceledCtx()), Canceled},
		{"*Error of Kind Canceled", urlErr(&Error{Kind: Canceled, Err: context.Canceled}), Canceled},
		{"plain error", errors.New("boom"), Unclassified},
		{"io.EOF", io.EOF, Unclassified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, KindOf(tc.err), "KindOf(%v)", tc.err)
		})
	}
}

func TestMentionsCapability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		want bool
	}{
		{"Insufficient permissions for this endpoint.", true},
		{"insufficient permissions for this endpoint", true},
		{"The integration does not have the insert content capability.", true},
		{"Missing capabilities: read_comments", true},
		{"API token does not have access to this resource.", false},
		{"Could not find page with ID: " + fxPage + ".", false},
		{"This workspace has reached its block limit.", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, mentionsCapability(tc.msg))
		})
	}
}

func TestMentionsProperty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		want bool
	}{
		{"Could not find property with ID: BJXS.", true},
		{"Could not find property with name or id: Status", true},
		{"could not find property with id: title", true},
		{"Could not find page with ID: " + fxPage + ". Make sure the relevant pages and databases are shared with your integration.", false},
		{"Could not find block with ID: " + fxBlock + ".", false},
		{"Could not find database with ID: " + fxDBRaw + ".", false},
		{"Could not find data source with ID: " + fxDS + ".", false},
		{"Could not find object. Make sure the relevant pages and databases are shared with your integration.", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, mentionsProperty(tc.msg))
		})
	}
}

func TestKindOfStoreErrors(t *testing.T) {
	t.Parallel()
	storeErr := func(err error) error {
		return &StoreError{Op: "get", Key: "ws-1", Path: "/var/lib/app/grants", Err: err}
	}
	pathErr := &fs.PathError{Op: "open", Path: "/var/lib/app/grants", Err: syscall.EACCES}
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"grant not found", ErrGrantNotFound, InvalidRequest},
		{"grant not found wrapped", fmt.Errorf("load ws-1: %w", ErrGrantNotFound), InvalidRequest},
		{"grant not found behind the Transport", &url.Error{Op: "Get", URL: fxAPI, Err: fmt.Errorf("token: %w", ErrGrantNotFound)}, InvalidRequest},

		{"wrong key", storeErr(ErrWrongKey), InvalidRequest},
		{"corrupt", storeErr(fmt.Errorf("%w: truncated JSON", ErrCorrupt)), InvalidRequest},
		{"key required", storeErr(ErrKeyRequired), InvalidRequest},
		{"not encrypted", storeErr(ErrNotEncrypted), InvalidRequest},
		{"unsupported format", storeErr(fmt.Errorf("%w: 7", ErrUnsupportedFormat)), InvalidRequest},
		{"key size", storeErr(KeySizeError(16)), InvalidRequest},
		{"key size, bare", KeySizeError(0), InvalidRequest},
		{"key size, pointer", func() error { k := KeySizeError(5); return &k }(), InvalidRequest},
		{"wrong key, bare", ErrWrongKey, InvalidRequest},

		{"path error", storeErr(pathErr), Unavailable},
		{"disk full", storeErr(&fs.PathError{Op: "write", Path: "/var/lib/app/grants.tmp", Err: syscall.ENOSPC}), Unavailable},
		{"lock error", storeErr(fmt.Errorf("flock: %w", syscall.ENOLCK)), Unavailable},
		{"unsupported platform", storeErr(errors.ErrUnsupported), Unavailable},
		{"server-backed store unreachable", storeErr(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), Unavailable},
		{"store error in fmt.Errorf", fmt.Errorf("refresh: %w", storeErr(errors.New("redis: connection pool timeout"))), Unavailable},
		{"store error cancelled", storeErr(context.Canceled), Canceled},

		{"bare path error is not a store's", pathErr, Unclassified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, KindOf(tc.err), "KindOf(%v)", tc.err)
		})
	}
}
