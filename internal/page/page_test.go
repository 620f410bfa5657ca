package page

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeys(t *testing.T) {
	m := map[string]int{}
	for i := range 200 {
		m["k"+strconv.Itoa(rand.IntN(1000))] = i
	}
	all := make([]string, 0, len(m))
	for k := range m {
		all = append(all, k)
	}
	slices.Sort(all)

	tests := []struct {
		name  string
		after string
		limit int
	}{
		{"first page", "", 10},
		{"all in one", "", len(all) + 5},
		{"exactly all", "", len(all)},
		{"limit one", "", 1},
		{"after the first", all[0], 7},
		{"after a key not kept", "k5x", 13},
		{"after the last", all[len(all)-1], 10},
		{"after everything", "~", 10},
		{"zero limit", "", 0},
		{"negative limit", "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, k := range all {
				if k > tt.after && len(want) < tt.limit {
					want = append(want, k)
				}
			}
			got := Keys(m, tt.after, tt.limit)
			if len(want) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestKeysPagesThroughAll(t *testing.T) {
	m := map[string]struct{}{}
	for i := range 1000 {
		m[strconv.Itoa(rand.Int())+"-"+strconv.Itoa(i)] = struct{}{}
	}
	var got []string
	for after := ""; ; {
		p := Keys(m, after, 37)
		got = append(got, p...)
		if len(p) < 37 {
			break
		}
		after = p[len(p)-1]
	}
	assert.Len(t, got, len(m))
	assert.True(t, slices.IsSorted(got))
	assert.Equal(t, len(got), len(slices.Compact(slices.Clone(got))))
}
