package notionauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// okBase answers every request with the same 200, at no cost of its own, so
// that the benchmarks below measure what the Transport adds.
type okBase struct{ resp *http.Response }

func (b okBase) RoundTrip(*http.Request) (*http.Response, error) { return b.resp, nil }

func benchRequest(b *testing.B, url string) *http.Request {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/v1/pages/"+pageID, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Notion-Version", DefaultNotionVersion)
	return req
}

// BenchmarkSuccessPath is the 2xx path: a bare base transport beside the
// Transport (auth from Source, latch check, classification) over it.
func BenchmarkSuccessPath(b *testing.B) {
	base := okBase{&http.Response{StatusCode: 200, Body: http.NoBody}}
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"base", base},
		{"transport", &Transport{Base: base, Source: static(testToken)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := benchRequest(b, "https://api.notion.com")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSuccessPathLoopback is the same over real HTTP on loopback.
func BenchmarkSuccessPathLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"page","id":"`+pageID+`"}`)
	}))
	defer srv.Close()
	for _, bc := range []struct {
		name string
		rt   func(base http.RoundTripper) http.RoundTripper
	}{
		{"base", func(base http.RoundTripper) http.RoundTripper { return base }},
		{"transport", func(base http.RoundTripper) http.RoundTripper {
			return &Transport{Base: base, Source: static(testToken)}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			base := &http.Transport{MaxIdleConnsPerHost: 4}
			defer base.CloseIdleConnections()
			rt := bc.rt(base)
			req := benchRequest(b, srv.URL)
			req.Header.Set("Authorization", "Bearer "+testToken)
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
