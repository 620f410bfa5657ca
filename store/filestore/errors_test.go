package filestore

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth"
)

// TestKindOfFileStoreErrors: notionauth.KindOf classifies what a real
// Store returns.
func TestKindOfFileStoreErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// getErr returns the error of s.Get, requiring it to match cause.
	getErr := func(t *testing.T, s *Store, cause error) error {
		t.Helper()
		_, err := s.Get(ctx, "ws-1")
		require.ErrorIs(t, err, cause)
		return err
	}
	encrypted := func(t *testing.T) string {
		s := newStore(t, newKey(t))
		putGrant(t, s, "ws-1")
		return s.Path
	}
	plaintext := func(t *testing.T) string {
		s := newStore(t, nil)
		putGrant(t, s, "ws-1")
		return s.Path
	}
	tests := []struct {
		name  string
		store func(t *testing.T) *Store
		cause error
	}{
		{"grant not found", func(t *testing.T) *Store { return newStore(t, nil) }, notionauth.ErrGrantNotFound},
		{"wrong key", func(t *testing.T) *Store { return &Store{Path: encrypted(t), EncryptionKey: newKey(t)} }, notionauth.ErrWrongKey},
		{"key required", func(t *testing.T) *Store { return &Store{Path: encrypted(t)} }, notionauth.ErrKeyRequired},
		{"not encrypted", func(t *testing.T) *Store { return &Store{Path: plaintext(t), EncryptionKey: newKey(t)} }, notionauth.ErrNotEncrypted},
		{"corrupt", func(t *testing.T) *Store {
			s := newStore(t, nil)
			require.NoError(t, os.WriteFile(s.Path, []byte(`{"version":1,"grants":{`), 0o600))
			return s
		}, notionauth.ErrCorrupt},
		{"empty key", func(t *testing.T) *Store {
			return &Store{Path: filepath.Join(t.TempDir(), "grants"), EncryptionKey: []byte{}}
		}, notionauth.KeySizeError(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := getErr(t, tc.store(t), tc.cause)
			assert.Equal(t, notionauth.InvalidRequest, notionauth.KindOf(err), "KindOf(%v)", err)
		})
	}
	t.Run("New: key size", func(t *testing.T) {
		t.Parallel()
		_, err := New(filepath.Join(t.TempDir(), "grants"), make([]byte, 16))
		require.ErrorIs(t, err, notionauth.KeySizeError(16))
		assert.Equal(t, notionauth.InvalidRequest, notionauth.KindOf(err))
	})
	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		s := &Store{Path: filepath.Join(t.TempDir(), "no-such-dir", "grants")}
		_, err := s.Get(ctx, "ws-1")
		var se *notionauth.StoreError
		require.ErrorAs(t, err, &se)
		var pe *fs.PathError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, notionauth.Unavailable, notionauth.KindOf(err))
	})
}
