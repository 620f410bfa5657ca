package notiontest

import (
	"net/http"
	"net/url"
)

// transport sends requests for any host to the fake server.
type transport struct {
	base *url.URL        // the fake's scheme and host
	rt   *http.Transport // owned by the Server, closed on Close
}

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// "RoundTrip should not modify the request" (net/http): route a clone.
	// The clone shares req.Body, which the underlying transport closes.
	r := req.Clone(req.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.Host = ""
	return t.rt.RoundTrip(r)
}
