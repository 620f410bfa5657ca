package bench

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/oauth2"

	"github.com/notionauth/notionauth"
)

// What a Manager costs per grant, for a SaaS holding many Notion
// workspaces, over a stub base with no network.

// grants is how many grants the Manager figures hold.
const grants = 100_000

// fillStore puts n grants in a MemoryStore, keys "w<i>", tokens distinct.
func fillStore(tb testing.TB, n int) *notionauth.MemoryStore {
	tb.Helper()
	s := &notionauth.MemoryStore{}
	ctx := context.Background()
	for i := range n {
		tok := &notionauth.Token{AccessToken: "ntn_grant_" + strconv.Itoa(i), RefreshToken: "nrt_grant_" + strconv.Itoa(i),
			WorkspaceID: "ws-" + strconv.Itoa(i%1000), BotID: "bot"}
		if _, err := s.Update(ctx, "w"+strconv.Itoa(i), func(*notionauth.Grant) (*notionauth.Grant, error) {
			return &notionauth.Grant{Token: tok}, nil
		}); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// pageRequest is a GET of the bench page, a request of its own.
func pageRequest() *http.Request {
	u := pageURL
	return &http.Request{Method: http.MethodGet, URL: &u, Host: u.Host,
		Header: http.Header{"Notion-Version": {notionauth.DefaultNotionVersion}}}
}

// BenchmarkManagerMemory reports the heap a Manager holds per grant,
// beyond its Store's own, once each of 100000 grants has made one call
// (B/grant), and what it still holds once every grant was disconnected
// (B/grant-after-disconnect). The op is then one more call of a grant, in
// turn.
func BenchmarkManagerMemory(b *testing.B) {
	store := fillStore(b, grants)
	base := newOKBase()
	m := &notionauth.Manager{Store: store, Base: base}
	ctx := context.Background()
	before := heapAlloc()
	for i := range grants {
		resp, err := m.Transport("w" + strconv.Itoa(i)).RoundTrip(pageRequest())
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	after := heapAlloc()
	per := float64(after-before) / grants
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Transport("w" + strconv.Itoa(i%grants)).RoundTrip(pageRequest()); err != nil {
			b.Fatal(err)
		}
		i++
	}
	for i := range grants {
		if err := m.Disconnect(ctx, "w"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	left := heapAlloc()
	runtime.KeepAlive(m)
	b.ReportMetric(per, "B/grant")
	b.ReportMetric(float64(left-before)/grants, "B/grant-after-disconnect")
}

// BenchmarkManagerCall is a call of a grant whose token the Manager holds
// (through Manager.Transport), beside the same call through a plain
// Transport with a static token and through golang.org/x/oauth2's.
func BenchmarkManagerCall(b *testing.B) {
	base := stubBase{&http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
	req := benchRequest(b, "https://api.notion.com")
	run := func(b *testing.B, rt http.RoundTripper) {
		if _, err := rt.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("manager", func(b *testing.B) {
		m := &notionauth.Manager{Store: fillStore(b, 1), Base: base}
		run(b, m.Transport("w0"))
	})
	b.Run("transport", func(b *testing.B) {
		run(b, &notionauth.Transport{Base: base, Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ntn_grant_0"})})
	})
	b.Run("oauth2", func(b *testing.B) {
		run(b, &oauth2.Transport{Base: base, Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ntn_grant_0"})})
	})
}

// BenchmarkManagerFirstCall is the first call of a grant (its grant read
// from the Store, its token made ready), once the Manager holds N others.
func BenchmarkManagerFirstCall(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run("grants="+strconv.Itoa(n), func(b *testing.B) {
			const fresh = 200_000 // grants never called before the timed loop
			store := fillStore(b, n+fresh)
			m := &notionauth.Manager{Store: store, Base: newOKBase()}
			for i := range n {
				if _, err := m.Transport("w" + strconv.Itoa(i)).RoundTrip(pageRequest()); err != nil {
					b.Fatal(err)
				}
			}
			i := n
			b.ReportAllocs()
			for b.Loop() {
				if i == n+fresh {
					b.Fatal("out of fresh grants: lower -benchtime")
				}
				if _, err := m.Transport("w" + strconv.Itoa(i)).RoundTrip(pageRequest()); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
