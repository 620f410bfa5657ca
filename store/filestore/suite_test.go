package filestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/storetest"
)

// suite runs storetest on the stores newStore returns.
func suite(newStore func(t *testing.T) *Store) storetest.Suite {
	return storetest.Suite{
		New: func(t *testing.T) notionauth.Store { return newStore(t) },
		Put: func(t *testing.T, s notionauth.Store, g *notionauth.Grant) { putRaw(t, s.(*Store), g) },
	}
}

// putRaw writes g into s's file as it is, Version included, under the
// store's lock, bypassing Update.
func putRaw(t *testing.T, s *Store, g *notionauth.Grant) {
	t.Helper()
	ctx := context.Background()
	unlock, err := s.lock(ctx, true)
	require.NoError(t, err)
	defer unlock()
	grants, err := s.load()
	require.NoError(t, err)
	grants[g.Key] = g.Clone()
	require.NoError(t, s.save(grants))
}

func TestStoreSuite(t *testing.T) {
	t.Run("Encrypted", func(t *testing.T) {
		suite(func(t *testing.T) *Store { return newStore(t, newKey(t)) }).Run(t)
	})
	t.Run("Plaintext", func(t *testing.T) {
		suite(func(t *testing.T) *Store { return newStore(t, nil) }).Run(t)
	})
	t.Run("ZeroValue", func(t *testing.T) {
		suite(func(t *testing.T) *Store { return &Store{Path: filepath.Join(t.TempDir(), "grants")} }).Run(t)
	})
	t.Run("FieldOfTheApp", func(t *testing.T) {
		// Held by value in the app's struct, used through a pointer.
		suite(func(t *testing.T) *Store {
			app := &struct {
				Name  string
				Store Store
			}{Name: "app"}
			app.Store.Path = filepath.Join(t.TempDir(), "grants")
			app.Store.EncryptionKey = newKey(t)
			return &app.Store
		}).Run(t)
	})
}
