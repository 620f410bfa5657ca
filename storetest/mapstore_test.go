package storetest_test

import (
	"testing"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/storetest"
)

// TestMapStore runs the suite on the example's store: the helpers a store
// author is given are enough to pass it.
func TestMapStore(t *testing.T) {
	storetest.Suite{
		New: func(t *testing.T) notionauth.Store { return newMapStore() },
		Put: func(t *testing.T, s notionauth.Store, g *notionauth.Grant) {
			m := s.(*mapStore)
			m.mu.Lock()
			defer m.mu.Unlock()
			m.grants[g.Key] = g.Clone()
		},
	}.Run(t)
}
