package notionauth_test

import (
	"testing"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Suite{
		New: func(t *testing.T) notionauth.Store { return new(notionauth.MemoryStore) },
		Put: func(t *testing.T, s notionauth.Store, g *notionauth.Grant) {
			notionauth.PutGrant(s.(*notionauth.MemoryStore), g)
		},
	}.Run(t)
}
