package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
)

const (
	benchToken  = "ntn_benchmark_token"
	benchPageID = "59833787-2cf9-4fdf-8782-e53db20768a5"
)

// stubBase answers every request with the same canned 200 and an empty
// body, without a network, so that the benchmarks measure what the layer
// above it adds.
type stubBase struct{ resp *http.Response }

func (b stubBase) RoundTrip(*http.Request) (*http.Response, error) { return b.resp, nil }

// layers are the RoundTrippers compared, each over base: nothing (the
// baseline), notionauth.Transport, and golang.org/x/oauth2's Transport,
// both with a static token.
func layers() []struct {
	name string
	wrap func(base http.RoundTripper) http.RoundTripper
} {
	source := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: benchToken})
	return []struct {
		name string
		wrap func(base http.RoundTripper) http.RoundTripper
	}{
		{"base", func(base http.RoundTripper) http.RoundTripper { return base }},
		{"notionauth", func(base http.RoundTripper) http.RoundTripper {
			return &notionauth.Transport{Base: base, Source: source}
		}},
		{"oauth2", func(base http.RoundTripper) http.RoundTripper {
			return &oauth2.Transport{Base: base, Source: source}
		}},
	}
}

func benchRequest(b *testing.B, baseURL string) *http.Request {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+"/v1/pages/"+benchPageID, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Notion-Version", notionauth.DefaultNotionVersion)
	return req
}

// BenchmarkSuccessPath is the cost of one 2xx request through each layer,
// with no network: the base's cost is the baseline.
func BenchmarkSuccessPath(b *testing.B) {
	base := stubBase{&http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
	for _, l := range layers() {
		b.Run(l.name, func(b *testing.B) {
			rt := l.wrap(base)
			req := benchRequest(b, "https://api.notion.com")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSuccessPathLoopback is the same over real HTTP/1.1 on loopback,
// reading and closing each body so that the connection is reused.
func BenchmarkSuccessPathLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"page","id":"`+benchPageID+`"}`)
	}))
	defer srv.Close()
	for _, l := range layers() {
		b.Run(l.name, func(b *testing.B) {
			base := &http.Transport{MaxIdleConnsPerHost: 4}
			defer base.CloseIdleConnections()
			rt := l.wrap(base)
			req := benchRequest(b, srv.URL)
			if l.name == "base" {
				// The layers add the token; the baseline sends the same header.
				req.Header.Set("Authorization", "Bearer "+benchToken)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
