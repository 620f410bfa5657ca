package workload

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRedirect(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	rt, err := NewRedirect(srv.URL)
	require.NoError(t, err)
	t.Cleanup(rt.CloseIdleConnections)

	req, err := http.NewRequest(http.MethodGet, "https://api.notion.com/v1/pages/abc?x=1", nil)
	require.NoError(t, err)
	req.Header.Set("Notion-Version", "2022-06-28")
	for range 3 {
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, "GET /v1/pages/abc?x=1", string(body), "path and query kept")
	}
	assert.Equal(t, "https://api.notion.com/v1/pages/abc?x=1", req.URL.String(), "the caller's request is not modified")
	assert.Equal(t, "api.notion.com", req.Host)
	assert.Equal(t, int64(1), rt.Dials(), "one connection, reused")
	assert.Zero(t, rt.Leaked(time.Second), "nothing leaked")
	assert.Zero(t, rt.Open())
}

func TestRedirectLeaked(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t)
	rt, err := NewRedirect(srv.URL)
	require.NoError(t, err)
	t.Cleanup(rt.CloseIdleConnections)

	get := func() *http.Response {
		req, err := http.NewRequest(http.MethodGet, "https://api.notion.com/v1/users/me", nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		return resp
	}
	unclosed := get() // never read nor closed: its connection cannot be reused
	resp := get()
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	assert.Equal(t, int64(2), rt.Dials())
	assert.Equal(t, int64(1), rt.Leaked(50*time.Millisecond), "the connection of the unclosed body")
	unclosed.Body.Close()
	assert.Zero(t, rt.Leaked(time.Second))
}

func TestNewRedirectBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:80", "://x"} {
		_, err := NewRedirect(u)
		assert.Error(t, err, "%q", u)
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:443", true},
		{"[::1]:443", true},
		{"localhost:80", true},
		{"api.notion.com:443", false},
		{"10.0.0.1:80", false},
		{"127.0.0.1", false}, // no port
	}
	for _, tt := range tests {
		err := checkLoopback(tt.addr)
		if tt.ok {
			assert.NoError(t, err, tt.addr)
		} else {
			assert.Error(t, err, tt.addr)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", []time.Duration{7}, 0.99, 7},
		{"p50 of 100", d, 0.50, 50},
		{"p99 of 100", d, 0.99, 99},
		{"p100", d, 1, 100},
		{"p0", d, 0, 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(tt.sorted, tt.p), tt.name)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	assert.Equal(t, Config{Budget: 60, Window: 2 * time.Second, Calls: 360, Goroutines: 16, Attempts: 20, Tokens: 1, RunTimeout: 5 * time.Minute}, c)
	assert.Equal(t, 10*time.Second, c.IdealWall(), "6 windows, the last not waited out")
	assert.InDelta(t, 30.0, c.Rate(), 1e-9)
	assert.NoError(t, c.validate())

	many := Config{Budget: 3, Window: 5 * time.Second, Tokens: 5000}.WithDefaults()
	assert.Equal(t, 90000, many.Calls, "6 windows' worth of every token: got %d", many.Calls)
	assert.Zero(t, many.CallTimeout, "no deadline per call by default")
	assert.False(t, many.WholeSeconds)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"a deadline per call", Config{CallTimeout: time.Minute}, true},
		{"many tokens", Config{Tokens: 100}, true},
		{"negative budget", Config{Budget: -1}, false},
		{"negative tokens", Config{Tokens: -1}, false},
		{"negative call timeout", Config{CallTimeout: -time.Second}, false},
		{"negative run timeout", Config{RunTimeout: -time.Second}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.WithDefaults().validate()
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			assert.Error(t, err, tt.name)
		}
	}
}

func TestConfigIdealWall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		wall time.Duration
		rate float64
	}{
		{"one token", Config{Budget: 180, Window: time.Minute, Calls: 541}, 3 * time.Minute, 3},
		{"fits one window", Config{Budget: 180, Window: time.Minute, Calls: 180}, 0, 3},
		{"many tokens", Config{Budget: 3, Window: 5 * time.Second, Calls: 45000, Tokens: 5000}, 10 * time.Second, 3000},
		{"uneven spread", Config{Budget: 3, Window: 2 * time.Second, Calls: 1801, Tokens: 200}, 6 * time.Second, 300},
	}
	for _, tt := range tests {
		c := tt.cfg.WithDefaults()
		assert.Equal(t, tt.wall, c.IdealWall(), "%s: ideal wall", tt.name)
		assert.InDelta(t, tt.rate, c.Rate(), 1e-9, "%s: rate", tt.name)
	}
}
