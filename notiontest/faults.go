package notiontest

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is a scripted answer for matching requests. See [Server.Inject].
type Fault struct {
	Method string // "": any method
	Path   string // "": any path; an exact URL path, or a prefix when it ends in "*" ("/v1/pages/*")
	Token  string // "": any request; else only requests with this bearer token
	Times  int    // how many matching requests the fault answers; 0: 1; negative: all, until ClearFaults

	// Status is the status of the scripted answer. 0 means no answer: only
	// Delay applies, then the request goes on (see [Server.Inject]).
	Status int
	// Code and Message make the JSON error body
	// {"object":"error","status":...,"code":...,"message":...,"request_id":...}.
	// "": a default for Status, such as "rate_limited" for 429.
	Code, Message string
	// AdditionalData is the body's "additional_data"; nil: none.
	AdditionalData map[string]any
	// Header holds extra response headers, replacing the defaults.
	Header http.Header
	// Body, when not empty, is sent instead of the JSON error, as an edge
	// proxy would: the answer then carries Header, a cf-ray header and a
	// Content-Type (default text/html), but no x-notion-request-id.
	Body string

	// Delay is the latency before answering, or before serving the request
	// normally when Status is 0, counted on the server's clock (see
	// [Server.SetClock]). The wait ends early, without an answer, when the
	// client goes away or the server closes.
	Delay time.Duration
	// Reset closes the TCP connection (with a reset) instead of answering.
	// net/http's Transport silently retries idempotent requests that fail
	// this way on a reused connection; use Times > 1 when that matters.
	Reset bool
}

type fault struct {
	Fault
	left int // answers left; negative: unlimited
}

// Inject adds f to the server's script. Each request is checked against the
// faults in injection order. A matching fault with uses left that only
// delays (Status 0, no Reset) adds its Delay and lets the scan go on; the
// first matching fault that answers ends it. A fault answers before the
// token is checked, so a Token-scoped fault applies even to a valid token.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	f.Header = f.Header.Clone()
	f.AdditionalData = maps.Clone(f.AdditionalData)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{Fault: f, left: left})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// pathMatches reports whether path matches pattern: "" matches all, a
// trailing "*" matches by prefix, anything else exactly.
func pathMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == "" || pattern == path
}

func (f *Fault) matches(c *call) bool {
	return (f.Method == "" || strings.EqualFold(f.Method, c.r.Method)) &&
		pathMatches(f.Path, c.r.URL.Path) &&
		(f.Token == "" || f.Token == c.token)
}

func (f *Fault) answers() bool {
	return f.Status != 0 || f.Reset
}

// pickFaults uses up the faults that apply to c and returns their total
// delay and the fault that answers, if any.
func (s *Server) pickFaults(c *call) (time.Duration, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var delay time.Duration
	for _, f := range s.faults {
		if f.left == 0 || !f.matches(c) {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		delay += f.Delay
		if f.answers() {
			answer := f.Fault
			return delay, &answer
		}
	}
	return delay, nil
}

// applyFaults plays the faults for c and reports whether the request should
// then be served normally.
func (s *Server) applyFaults(c *call) bool {
	delay, f := s.pickFaults(c)
	if delay > 0 {
		elapsed := make(chan struct{})
		stop := s.afterFunc(delay, func() { close(elapsed) })
		defer stop()
		// Waiting on the clock is not work: the clock may move on.
		c.idle(true)
		defer c.idle(false)
		select {
		case <-elapsed:
		case <-c.r.Context().Done():
			c.reset() // the client has gone; write nothing
			return false
		case <-s.done:
			c.reset()
			return false
		}
	}
	switch {
	case f == nil:
		return true
	case f.Reset:
		c.reset()
	case f.Body != "":
		h := c.w.Header()
		h.Set(headerContentType, "text/html; charset=UTF-8")
		h.Set(headerCFRay, newRay())
		copyHeader(h, f.Header)
		c.status = f.Status
		c.w.WriteHeader(f.Status)
		_, _ = c.w.Write([]byte(f.Body))
	default:
		e := &apiError{f.Status, f.Code, f.Message, f.AdditionalData}
		if e.code == "" {
			e.code = defaultCode(f.Status)
		}
		if e.message == "" {
			e.message = defaultMessage(e.code)
		}
		c.fail(e, f.Header)
	}
	return false
}

// defaultCode is Notion's usual error code for status.
func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "validation_error"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "restricted_resource"
	case http.StatusNotFound:
		return "object_not_found"
	case http.StatusConflict:
		return "conflict_error"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusBadGateway:
		return "bad_gateway"
	case http.StatusServiceUnavailable:
		return "service_unavailable"
	case http.StatusGatewayTimeout:
		return "gateway_timeout"
	case statusOverloaded:
		return "service_overload"
	default:
		return "internal_server_error"
	}
}

// defaultMessage is a message in Notion's style for code.
func defaultMessage(code string) string {
	switch code {
	case "validation_error":
		return "The request body does not match the schema for the expected parameters."
	case "unauthorized":
		return "API token is invalid."
	case "restricted_resource":
		return "API token does not have access to this resource."
	case "object_not_found":
		return "Could not find object. Make sure the relevant pages and databases are shared with your integration."
	case "conflict_error":
		return "Conflict occurred while saving. Please try again."
	case "rate_limited":
		return "You have been rate limited. Please try again in a few minutes."
	case "bad_gateway":
		return "Notion encountered an issue while attempting to complete this request. Please try again."
	case "service_unavailable":
		return "Notion is unavailable. Please try again later."
	case "gateway_timeout":
		return "Notion timed out while attempting to complete this request. Please try again later."
	case "service_overload":
		return "Notion is overloaded. Please try again later."
	default:
		return "Unexpected error occurred."
	}
}

// statusOverloaded is Notion's 529, which net/http has no name for.
const statusOverloaded = 529

// Ready-made faults. Each answers once (Times 0) unless it says otherwise;
// adjust the returned Fault to scope or repeat it.

// RateLimited is a 429 rate_limited for the per-connection limit, with
// Retry-After in whole seconds (rounded up, at least 1), repeated in
// additional_data as "retry_after" next to "rate_limit_reason":
// "public_api_request_rate_limit".
func RateLimited(retryAfter time.Duration) Fault {
	secs := strconv.Itoa(retryAfterSeconds(retryAfter))
	return Fault{
		Status: http.StatusTooManyRequests,
		Code:   "rate_limited",
		Header: http.Header{headerRetryAfter: {secs}},
		AdditionalData: map[string]any{
			"retry_after":       secs,
			"rate_limit_reason": ReasonRequestRateLimit,
		},
	}
}

// Blocked is a 429 rate_limited whose rate_limit_reason is
// "public_api_request_blocked": access is restricted and retrying will not
// help. It carries no Retry-After.
func Blocked() Fault {
	return Fault{
		Status:         http.StatusTooManyRequests,
		Code:           "rate_limited",
		Message:        "This request has been blocked.",
		AdditionalData: map[string]any{"rate_limit_reason": ReasonRequestBlocked},
	}
}

// Overloaded is a 529 service_overload, with Retry-After in whole seconds
// when retryAfter > 0.
func Overloaded(retryAfter time.Duration) Fault {
	f := Fault{Status: statusOverloaded, Code: "service_overload"}
	if retryAfter > 0 {
		f.Header = http.Header{headerRetryAfter: {strconv.Itoa(retryAfterSeconds(retryAfter))}}
	}
	return f
}

// Conflict is a 409 conflict_error.
func Conflict() Fault {
	return Fault{Status: http.StatusConflict, Code: "conflict_error"}
}

// ServerError is a JSON error for a 5xx status: internal_server_error (500),
// bad_gateway (502), service_unavailable (503) or gateway_timeout (504).
// Other statuses get internal_server_error.
func ServerError(status int) Fault {
	return Fault{Status: status, Code: defaultCode(status)}
}

// EdgeHTML is an HTML error page from the Cloudflare edge in front of
// Notion: Content-Type text/html, a cf-ray header, no x-notion-request-id
// and no JSON.
func EdgeHTML(status int) Fault {
	text := http.StatusText(status)
	if text == "" {
		text = "Error"
	}
	title := fmt.Sprintf("%d %s", status, text)
	return Fault{
		Status: status,
		Header: http.Header{"Server": {"cloudflare"}},
		Body: "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n" +
			"<center><h1>" + title + "</h1></center>\r\n<hr><center>cloudflare</center>\r\n" +
			"</body>\r\n</html>\r\n",
	}
}

// SpuriousUnauthorized is one 401 unauthorized ("API token is invalid.")
// although the token is valid.
func SpuriousUnauthorized() Fault {
	return Fault{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "API token is invalid."}
}

// Latency delays every matching request by d (Times -1), then serves it.
func Latency(d time.Duration) Fault {
	return Fault{Delay: d, Times: -1}
}

// ConnectionReset closes the connection without answering.
func ConnectionReset() Fault {
	return Fault{Reset: true}
}

// BlockLimit is the 403 restricted_resource of a Free workspace over its
// block limit, with additional_data {"reason": "block_limit"}. Notion does
// not publish the exact shape; this one stays close to restricted_resource.
func BlockLimit() Fault {
	return Fault{
		Status:         http.StatusForbidden,
		Code:           "restricted_resource",
		Message:        "The workspace has reached its block limit. Upgrade to a paid plan to add more content.",
		AdditionalData: map[string]any{"reason": "block_limit"},
	}
}
