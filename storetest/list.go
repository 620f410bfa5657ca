package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
)

// listKeys are keys whose byte order differs from what a natural, a
// case-insensitive or a collating order would give.
var listKeys = []string{
	"ws-9", "ws-10", "ws-1", "A", "a", "Z", "_", "ws-e", "ws-é", "é", "ws e", `user "q"`, "~", "0", "ws-\u00ff", "ws-\U0001F600",
}

// fill stores a grant under each of keys, in a random order, and returns
// the keys sorted.
func fill(t *testing.T, s notionauth.Store, keys []string) []string {
	t.Helper()
	shuffled := slices.Clone(keys)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, k := range shuffled {
		put(t, s, k)
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	return sorted
}

// keysOf returns the keys of grants, failing t on a nil grant.
func keysOf(t *testing.T, grants []*notionauth.Grant) []string {
	t.Helper()
	keys := make([]string, len(grants))
	for i, g := range grants {
		require.NotNil(t, g, "List returned a nil grant at %d", i)
		keys[i] = g.Key
	}
	return keys
}

// pageAll pages through s with List and limit, checking every page's size
// and that a short page comes last, and returns the keys in the order
// listed.
func pageAll(t *testing.T, s notionauth.Store, limit int) []string {
	t.Helper()
	want := limit
	if want == 0 {
		want = notionauth.DefaultListLimit
	}
	var all []string
	for after, pages := "", 0; ; pages++ {
		require.Less(t, pages, 10000, "List(limit %d) never returned a short page", limit)
		page, err := s.List(context.Background(), after, limit)
		require.NoError(t, err, "List(%q, %d)", after, limit)
		require.LessOrEqual(t, len(page), want, "List(%q, %d) returned more than the limit", after, limit)
		keys := keysOf(t, page)
		all = append(all, keys...)
		if len(page) < want {
			return all
		}
		after = keys[len(keys)-1]
	}
}

func testList(t *testing.T, s Suite) {
	ctx := context.Background()

	t.Run("Empty", func(t *testing.T) {
		st := s.New(t)
		for _, tc := range []struct {
			after string
			limit int
		}{{"", 0}, {"", 1}, {"ws-1", 10}, {"\xff", 0}} {
			page, err := st.List(ctx, tc.after, tc.limit)
			require.NoError(t, err, "List(%q, %d) of an empty store", tc.after, tc.limit)
			assert.Empty(t, page, "List(%q, %d) of an empty store", tc.after, tc.limit)
		}
		for g, err := range notionauth.Grants(ctx, st) {
			t.Errorf("Grants of an empty store yielded %v, %v", g, err)
		}
	})

	t.Run("Order", func(t *testing.T) {
		st := s.New(t)
		sorted := fill(t, st, listKeys)
		page, err := st.List(ctx, "", 0)
		require.NoError(t, err)
		assert.Equal(t, sorted, keysOf(t, page), "List must return the keys in ascending byte order")
		for _, g := range page {
			assert.Equal(t, normal(get(t, st, g.Key)), normal(g), "List must return grants as Get does")
		}
	})

	t.Run("Paging", func(t *testing.T) {
		st := s.New(t)
		sorted := fill(t, st, listKeys)
		for _, limit := range []int{1, 2, 3, 5, len(listKeys) - 1, len(listKeys), len(listKeys) + 1, 0} {
			assert.Equal(t, sorted, pageAll(t, st, limit), "paging with limit %d", limit)
		}
	})

	t.Run("After", func(t *testing.T) {
		st := s.New(t)
		sorted := fill(t, st, listKeys)
		after := func(a string) []string {
			var keys []string
			for _, k := range sorted {
				if k > a {
					keys = append(keys, k)
				}
			}
			return keys
		}
		for _, a := range []string{"", sorted[0], sorted[3], sorted[len(sorted)-2], sorted[len(sorted)-1],
			"ws-", "ws-10\x00", "B", "\x00", "\xff", "ws-\xff"} {
			page, err := st.List(ctx, a, 0)
			require.NoError(t, err, "List(%q)", a)
			if want := after(a); len(want) > 0 {
				assert.Equal(t, want, keysOf(t, page), "List(%q) must return the keys strictly after it", a)
			} else {
				assert.Empty(t, page, "List(%q) past the last key", a)
			}
			page, err = st.List(ctx, a, 2)
			require.NoError(t, err, "List(%q, 2)", a)
			if want := after(a); len(want) > 0 {
				assert.Equal(t, want[:min(2, len(want))], keysOf(t, page), "List(%q, 2)", a)
			} else {
				assert.Empty(t, page, "List(%q, 2) past the last key", a)
			}
		}
	})

	t.Run("DefaultLimit", func(t *testing.T) {
		st := s.New(t)
		n := notionauth.DefaultListLimit + 2
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("ws-%04d", i)
		}
		sorted := fill(t, st, keys)
		page, err := st.List(ctx, "", 0)
		require.NoError(t, err)
		assert.Equal(t, sorted[:notionauth.DefaultListLimit], keysOf(t, page), "a limit of 0 is DefaultListLimit")
		page, err = st.List(ctx, sorted[notionauth.DefaultListLimit-1], 0)
		require.NoError(t, err)
		assert.Equal(t, sorted[notionauth.DefaultListLimit:], keysOf(t, page))

		var got []string
		for g, err := range notionauth.Grants(ctx, st) {
			require.NoError(t, err)
			got = append(got, g.Key)
		}
		assert.Equal(t, sorted, got, "Grants over more than one page")
	})

	t.Run("Revoked", func(t *testing.T) {
		st := s.New(t)
		fill(t, st, []string{"ws-1", "ws-2", "ws-3"})
		at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		_, err := notionauth.MarkRevoked(ctx, st, "ws-2", "invalid_grant", at)
		require.NoError(t, err)
		page, err := st.List(ctx, "", 0)
		require.NoError(t, err)
		require.Equal(t, []string{"ws-1", "ws-2", "ws-3"}, keysOf(t, page), "revoked grants are listed")
		for _, g := range page {
			if g.Key == "ws-2" {
				assert.True(t, at.Equal(g.Revoked), "List: Revoked = %v, want %v", g.Revoked, at)
				assert.Equal(t, "invalid_grant", g.RevokedReason)
				assert.Equal(t, token(), normal(g).Token, "a revoked grant keeps its token")
			} else {
				assert.True(t, g.Revoked.IsZero(), "List: %q is not revoked", g.Key)
			}
			assert.Equal(t, normal(get(t, st, g.Key)), normal(g), "List must return grants as Get does")
		}
	})

	t.Run("Grants", func(t *testing.T) {
		st := s.New(t)
		sorted := fill(t, st, listKeys)
		var got []string
		for g, err := range notionauth.Grants(ctx, st) {
			require.NoError(t, err)
			require.NotNil(t, g)
			assert.Equal(t, normal(get(t, st, g.Key)), normal(g))
			got = append(got, g.Key)
		}
		assert.Equal(t, sorted, got)

		// Stopping early.
		got = got[:0]
		for g, err := range notionauth.Grants(ctx, st) {
			require.NoError(t, err)
			if got = append(got, g.Key); len(got) == 3 {
				break
			}
		}
		assert.Equal(t, sorted[:3], got)

		var nilStore notionauth.Store
		n := 0
		for g, err := range notionauth.Grants(ctx, nilStore) {
			require.Error(t, err, "Grants of a nil Store")
			require.Nil(t, g)
			n++
		}
		assert.Equal(t, 1, n)
	})
}
