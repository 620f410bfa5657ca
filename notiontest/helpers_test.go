package notiontest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

const apiBase = "https://api.notion.com"

// setup starts a server, closed when the test ends, and mints a token.
func setup(t *testing.T) (*notiontest.Server, string) {
	t.Helper()
	s := notiontest.New(t)
	return s, s.NewToken()
}

// newClient is a notionapi client for the fake that does not retry 429s.
func newClient(s *notiontest.Server, token string) *notionapi.Client {
	return notionapi.NewClient(notionapi.Token(token),
		notionapi.WithHTTPClient(s.Client()), notionapi.WithRetry(1))
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// apiError is Notion's error body.
type apiError struct {
	Object         string         `json:"object"`
	Status         int            `json:"status"`
	Code           string         `json:"code"`
	Message        string         `json:"message"`
	RequestID      string         `json:"request_id"`
	AdditionalData map[string]any `json:"additional_data"`
}

// do sends a request to https://api.notion.com+path through the fake, with
// Notion-Version and, when token is not empty, a bearer token. body, when
// not nil, is sent as JSON (a string or []byte is sent as is).
func do(t *testing.T, s *notiontest.Server, method, path, token string, body any) response {
	t.Helper()
	req := newRequest(t, method, path, token, body)
	return send(t, s.Client(), req)
}

func newRequest(t *testing.T, method, path, token string, body any) *http.Request {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	case []byte:
		r = bytes.NewBuffer(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewBuffer(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, apiBase+path, r)
	require.NoError(t, err)
	req.Header.Set("Notion-Version", "2022-06-28")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func send(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// apiErr decodes r as a Notion error and checks the headers every Notion
// error carries.
func (r response) apiErr(t *testing.T) apiError {
	t.Helper()
	var e apiError
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	require.Equal(t, "error", e.Object, "body: %s", r.body)
	require.Equal(t, r.status, e.Status)
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	require.NotEmpty(t, e.RequestID)
	require.Equal(t, e.RequestID, r.header.Get("X-Notion-Request-Id"))
	require.NotEmpty(t, r.header.Get("Cf-Ray"))
	return e
}

// json decodes r's body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}
