package page

import "slices"

// Keys returns, in ascending order, the limit smallest keys of m that sort
// after after (all of them when fewer do); nil when limit is not positive.
// It keeps only limit keys while it looks at the others, so a page costs
// O(n log limit) for n keys, not a sort of them all.
func Keys[V any](m map[string]V, after string, limit int) []string {
	if limit <= 0 {
		return nil
	}
	// h is a max-heap of the smallest keys seen so far: h[0] is the
	// largest of them, the first to go when a smaller one comes.
	h := make([]string, 0, min(limit, len(m)))
	for k := range m {
		switch {
		case k <= after:
		case len(h) < limit:
			h = append(h, k)
			up(h, len(h)-1)
		case k < h[0]:
			h[0] = k
			down(h, 0)
		}
	}
	slices.Sort(h)
	return h
}

// up moves h[i] towards the root until its parent is not smaller.
func up(h []string, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] >= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// down moves h[i] towards the leaves until no child is larger.
func down(h []string, i int) {
	for {
		big := i
		if l := 2*i + 1; l < len(h) && h[l] > h[big] {
			big = l
		}
		if r := 2*i + 2; r < len(h) && h[r] > h[big] {
			big = r
		}
		if big == i {
			return
		}
		h[i], h[big] = h[big], h[i]
		i = big
	}
}
