package workload

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Redirect is an http.RoundTripper that sends every request to one base URL
// (scheme and host; path and query are kept), whatever the request's own,
// over a connection pool of its own, and counts the TCP connections that
// pool opens and closes. It dials loopback addresses only. It is safe for
// concurrent use.
//
// Giving each client its own Redirect makes "connections opened" a
// per-client figure. The pool keeps up to 100 idle connections, so that a
// client with that many goroutines or fewer never has to drop a healthy
// connection: a fresh dial then means a connection was lost or leaked.
type Redirect struct {
	target *url.URL
	tr     *http.Transport
	dials  atomic.Int64
	closed atomic.Int64
}

var _ http.RoundTripper = (*Redirect)(nil)

// NewRedirect returns a Redirect to baseURL, such as a notiontest.Server's
// URL.
func NewRedirect(baseURL string) (*Redirect, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("workload: base URL: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("workload: base URL %q has no scheme or host", baseURL)
	}
	r := &Redirect{target: u}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	r.tr = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if err := checkLoopback(addr); err != nil {
				return nil, err
			}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			r.dials.Add(1)
			return &countedConn{Conn: c, closed: &r.closed}, nil
		},
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
	}
	return r, nil
}

// checkLoopback refuses any address but a loopback one: the workload must
// never reach the network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("workload: dial %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("workload: dial %q: not a loopback address", addr)
	}
	return nil
}

// RoundTrip sends a copy of req to the base URL. It does not modify req.
func (r *Redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	// "RoundTrip should not modify the request" (net/http): send a shallow
	// copy with its own URL. The copy shares req.Body, which the
	// underlying transport closes.
	out := *req
	u := *req.URL
	u.Scheme, u.Host = r.target.Scheme, r.target.Host
	out.URL = &u
	out.Host = ""
	return r.tr.RoundTrip(&out)
}

// Dials reports how many TCP connections r has opened.
func (r *Redirect) Dials() int64 { return r.dials.Load() }

// Open reports how many of r's TCP connections are open now.
func (r *Redirect) Open() int64 { return r.dials.Load() - r.closed.Load() }

// Leaked closes r's idle connections and reports how many stay open. Call
// it when no request is in flight: the connections still open are then
// held by response bodies that were never read to the end nor closed. It
// waits up to wait for connections still on their way back to the pool (the
// transport returns a connection asynchronously once its body is done).
func (r *Redirect) Leaked(wait time.Duration) int64 {
	deadline := time.Now().Add(wait)
	for {
		r.tr.CloseIdleConnections()
		n := r.Open()
		if n == 0 || !time.Now().Before(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CloseIdleConnections closes r's idle connections. Connections still in
// use (or leaked by a client that never closed a response body) stay open.
func (r *Redirect) CloseIdleConnections() { r.tr.CloseIdleConnections() }

// countedConn counts its first Close.
type countedConn struct {
	net.Conn
	closed *atomic.Int64
	once   sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.closed.Add(1) })
	return c.Conn.Close()
}
