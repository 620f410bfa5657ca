package notiontest

import (
	"bytes"
	"net/http"
	"strings"
	"time"
)

// maxLoggedBody is how much of a request body the log keeps.
const maxLoggedBody = 64 << 10

// Request is one request the server received, as [Server.Requests]
// reports it.
type Request struct {
	Method    string
	Path      string // URL path, as sent
	RawQuery  string
	TokenHash string    // [TokenHash] of the bearer token; "" when none
	Workspace string    // [Server.WorkspaceOf] the bearer token on arrival; "" when none or unknown
	Body      []byte    // the request body, verbatim (OAuth bodies hold codes and tokens), first 64 KiB
	Status    int       // status answered; 0 while pending, for a reset, or when the client left first
	Time      time.Time // arrival, on the server's clock (see [Server.SetClock])
}

// record appends a log entry for r and returns it, for finish to fill in.
func (s *Server) record(r *http.Request, token string, body []byte, arrived time.Time) *Request {
	rec := &Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Body:     bytes.Clone(body[:min(len(body), maxLoggedBody)]),
		Time:     arrived,
	}
	if token != "" {
		rec.TokenHash = TokenHash(token)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.Workspace = s.workspaceOfLocked(token)
	s.log = append(s.log, rec)
	return rec
}

func (s *Server) finish(rec *Request, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.Status = status
}

// Requests returns a copy of the request log, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, rec := range s.log {
		out[i] = *rec
		out[i].Body = bytes.Clone(rec.Body)
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Count returns how many logged requests have the method ("": any) and
// match path ("": any; a trailing "*" matches by prefix, as in [Fault]).
func (s *Server) Count(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rec := range s.log {
		if (method == "" || strings.EqualFold(method, rec.Method)) && pathMatches(path, rec.Path) {
			n++
		}
	}
	return n
}
