package notionauth_test

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/storetest"
)

func TestFileStoreSuite(t *testing.T) {
	newStore := func(key []byte) func(t *testing.T) notionauth.Store {
		return func(t *testing.T) notionauth.Store {
			if key != nil {
				key = make([]byte, 32)
				_, err := rand.Read(key)
				require.NoError(t, err)
			}
			s, err := notionauth.NewFileStore(filepath.Join(t.TempDir(), "grants"), key)
			require.NoError(t, err)
			return s
		}
	}
	t.Run("Encrypted", func(t *testing.T) { storetest.Run(t, newStore([]byte{})) })
	t.Run("Plaintext", func(t *testing.T) { storetest.Run(t, newStore(nil)) })
	t.Run("ZeroValue", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) notionauth.Store {
			return &notionauth.FileStore{Path: filepath.Join(t.TempDir(), "grants")}
		})
	})
}
