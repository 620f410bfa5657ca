package notiontest

import (
	"net/http"
	"net/url"
)

// transport sends requests for any host to the fake server.
type transport struct {
	srv  *Server
	base *url.URL        // the fake's scheme and host
	rt   *http.Transport // owned by the Server, closed on Close
}

// headerInFlight marks a request the Server's own transport sent and
// counts as in flight on the Server's clock (see Clock.AutoAdvance). The
// server removes it before anything else sees the request.
const headerInFlight = "Notiontest-In-Flight"

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// "RoundTrip should not modify the request" (net/http): route a clone.
	// The clone shares req.Body, which the underlying transport closes.
	r := req.Clone(req.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.Host = ""
	if clk := t.srv.clock.Load(); clk != nil {
		// On its way there and back, the request keeps the clock from
		// moving by itself, as real time would not jump meanwhile.
		clk.busy(1)
		defer clk.busy(-1)
		r.Header.Set(headerInFlight, "1")
	}
	return t.rt.RoundTrip(r)
}
