package filestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notionauth/notionauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

// newStore returns a store in a new temporary directory.
func newStore(t *testing.T, key []byte) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "grants"), key)
	require.NoError(t, err)
	return s
}

// putGrant stores a grant holding grantToken() under key.
func putGrant(t *testing.T, s notionauth.Store, key string) *notionauth.Grant {
	t.Helper()
	g, err := s.Update(context.Background(), key, func(*notionauth.Grant) (*notionauth.Grant, error) {
		return &notionauth.Grant{Token: grantToken()}, nil
	})
	require.NoError(t, err)
	return g
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grants")
	tests := []struct {
		name    string
		key     []byte
		wantErr int // the notionauth.KeySizeError wanted; -1: none
	}{
		{"nil key: plaintext", nil, -1},
		{"32 bytes", make([]byte, 32), -1},
		{"16 bytes", make([]byte, 16), 16},
		{"24 bytes", make([]byte, 24), 24},
		{"33 bytes", make([]byte, 33), 33},
		{"empty, not nil", []byte{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(path, tt.key)
			if tt.wantErr < 0 {
				require.NoError(t, err)
				assert.Equal(t, path, s.Path)
				assert.Equal(t, tt.key, []byte(s.EncryptionKey))
				return
			}
			var kse notionauth.KeySizeError
			require.ErrorAs(t, err, &kse)
			assert.Equal(t, notionauth.KeySizeError(tt.wantErr), kse)
			assert.Contains(t, err.Error(), "want 32")
			assert.Nil(t, s)
		})
	}

	_, err := New("", nil)
	require.Error(t, err, "empty path")

	key := newKey(t)
	s, err := New(path, key)
	require.NoError(t, err)
	key[0] ^= 0xff
	assert.NotEqual(t, key, []byte(s.EncryptionKey), "New must copy the key")
}

func TestFileStoreInvalidFields(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := &Store{Path: filepath.Join(dir, "grants"), EncryptionKey: make([]byte, 16)}
	_, err := s.Get(ctx, "ws-1")
	var kse notionauth.KeySizeError
	require.ErrorAs(t, err, &kse)
	assert.Equal(t, notionauth.KeySizeError(16), kse)
	_, err = s.Update(ctx, "ws-1", increment)
	require.ErrorAs(t, err, &kse)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "a misconfigured store must not create files")

	_, err = (&Store{}).Get(ctx, "ws-1")
	require.Error(t, err, "no Path")
	_, err = (&Store{}).Update(ctx, "ws-1", increment)
	require.Error(t, err, "no Path")
}

// TestFileStoreKeyNotUTF8: JSON would keep a key with invalid UTF-8 as
// another key (its invalid bytes made U+FFFD), so that the grant could
// not be found again, or two keys would share one entry. Store
// refuses such keys instead.
func TestFileStoreKeyNotUTF8(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	putGrant(t, s, "ws-\ufffd")
	before := readFile(t, s.Path)
	for _, key := range []string{"ws-\xff", "ws-\xfe", "\xc3"} {
		_, err := s.Update(ctx, key, func(*notionauth.Grant) (*notionauth.Grant, error) {
			t.Error("fn called for a key the store cannot keep")
			return &notionauth.Grant{}, nil
		})
		require.ErrorIs(t, err, notionauth.ErrInvalidRequest, "key %q", key)
		_, err = s.Get(ctx, key)
		require.ErrorIs(t, err, notionauth.ErrInvalidRequest, "key %q", key)
		require.ErrorIs(t, s.Delete(ctx, key), notionauth.ErrInvalidRequest, "key %q", key)
	}
	assert.Equal(t, before, readFile(t, s.Path))
	g, err := s.Get(ctx, "ws-\ufffd")
	require.NoError(t, err)
	assert.Equal(t, int64(1), g.Version)
}

func TestFileStoreFileModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"Encrypted", newKey(t)}, {"Plaintext", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, tc.key)
			// A file made by someone else with a looser mode is replaced by
			// one with mode 0600.
			require.NoError(t, os.WriteFile(s.Path, nil, 0o644))
			require.NoError(t, os.Chmod(s.Path, 0o644))
			putGrant(t, s, "ws-1")
			for _, p := range []string{s.Path, s.Path + ".lock", s.Path + ".lock.queue"} {
				fi, err := os.Stat(p)
				require.NoError(t, err)
				assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), p)
			}
		})
	}
}

func TestFileStoreEncryptedAtRest(t *testing.T) {
	s := newStore(t, newKey(t))
	putGrant(t, s, "ws-1")
	data := readFile(t, s.Path)
	assert.True(t, bytes.HasPrefix(data, []byte("NAUTH\x01")), "header: %q", data[:min(len(data), 6)])
	tok := grantToken()
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, tok.WorkspaceName, tok.Owner.UserEmail, "access_token"} {
		assert.NotContains(t, string(data), secret)
		assert.NotContains(t, string(data), base64.StdEncoding.EncodeToString([]byte(secret)))
	}

	// Each write has a new nonce.
	putGrant(t, s, "ws-1")
	data2 := readFile(t, s.Path)
	assert.NotEqual(t, data[6:18], data2[6:18], "nonce reused")
}

// TestFileStorePlaintext shows what Store's doc warns about: without
// a key, the tokens are in the file as they are.
func TestFileStorePlaintext(t *testing.T) {
	s := newStore(t, nil)
	putGrant(t, s, "ws-1")
	data := readFile(t, s.Path)
	assert.Contains(t, string(data), testAccessToken)
	assert.Contains(t, string(data), testRefreshToken)
	var f map[string]any
	require.NoError(t, json.Unmarshal(data, &f))
	assert.Equal(t, float64(1), f["version"])
}

func TestFileStoreTokenRoundTripsEveryField(t *testing.T) {
	// Fill every field of notionauth.Grant and notionauth.Token by reflection, so that a field
	// added to either type later fails here until the file format
	// (grantV1, tokenV1) stores it.
	var g notionauth.Grant
	n := 0
	fillFields(t, reflect.ValueOf(&g).Elem(), &n)
	g.Key = "ws-1"
	require.NotNil(t, g.Token)
	grants := map[string]*notionauth.Grant{"ws-1": &g}
	for _, key := range [][]byte{nil, newKey(t)} {
		data, err := encodeStore(grants, key)
		require.NoError(t, err)
		got, err := decodeStore(data, key)
		require.NoError(t, err)
		assert.Equal(t, grants, got, "encrypted: %v", key != nil)
	}
}

// fillFields sets every field under v to a distinct non-zero value.
func fillFields(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	if !v.CanSet() {
		t.Fatalf("cannot set %s: teach fillFields and the file format about it", v.Type())
	}
	*n++
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2020, 1, 1, 0, 0, *n, *n, time.UTC)))
	case v.Kind() == reflect.String:
		v.SetString("value-" + strconv.Itoa(*n))
	case v.Kind() == reflect.Int64:
		v.SetInt(int64(*n))
	case v.Kind() == reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillFields(t, v.Elem(), n)
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			fillFields(t, v.Field(i), n)
		}
	default:
		t.Fatalf("field of type %s: teach fillFields and the file format about it", v.Type())
	}
}

func TestFileStoreWrongKey(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newKey(t))
	putGrant(t, s, "ws-1")
	before := readFile(t, s.Path)

	other, err := New(s.Path, newKey(t))
	require.NoError(t, err)
	_, err = other.Get(ctx, "ws-1")
	require.ErrorIs(t, err, notionauth.ErrWrongKey)
	var se *notionauth.StoreError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "get", se.Op)
	assert.Equal(t, "ws-1", se.Key)
	assert.Equal(t, s.Path, se.Path)
	assert.Equal(t, "notionauth: store "+s.Path+`: get "ws-1": cannot decrypt: wrong key or damaged file`, err.Error())
	for _, secret := range []string{hex.EncodeToString(other.EncryptionKey), hex.EncodeToString(s.EncryptionKey), string(other.EncryptionKey), testAccessToken} {
		assert.NotContains(t, err.Error(), secret)
	}

	_, err = other.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		t.Error("fn called on a store that cannot be read")
		return nil, nil
	})
	require.ErrorIs(t, err, notionauth.ErrWrongKey)
	require.ErrorIs(t, other.Delete(ctx, "ws-1"), notionauth.ErrWrongKey)
	_, err = notionauth.MarkRevoked(ctx, other, "ws-1", "unauthorized", time.Time{})
	require.ErrorIs(t, err, notionauth.ErrWrongKey)
	assert.Equal(t, before, readFile(t, s.Path), "the file must not be written over")
}

func TestFileStoreEncryptionMismatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plainPath, encPath := filepath.Join(dir, "plain"), filepath.Join(dir, "enc")
	putGrant(t, &Store{Path: plainPath}, "ws-1")
	putGrant(t, &Store{Path: encPath, EncryptionKey: newKey(t)}, "ws-1")

	tests := []struct {
		name string
		path string
		key  []byte
		want error
	}{
		{"plaintext file, store with a key", plainPath, newKey(t), notionauth.ErrNotEncrypted},
		{"encrypted file, store without a key", encPath, nil, notionauth.ErrKeyRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := readFile(t, tt.path)
			s := &Store{Path: tt.path, EncryptionKey: tt.key}
			_, err := s.Get(ctx, "ws-1")
			require.ErrorIs(t, err, tt.want)
			_, err = s.Update(ctx, "ws-1", increment)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, s.Delete(ctx, "ws-1"), tt.want)
			assert.Equal(t, before, readFile(t, tt.path), "the file must not be written over")
		})
	}
}

// checkUnreadable checks that s refuses the file at s.Path with an error
// matching want (any error when want is nil), without calling fn or
// writing the file.
func checkUnreadable(t *testing.T, s *Store, want error, msgAndArgs ...any) {
	t.Helper()
	ctx := context.Background()
	before := readFile(t, s.Path)
	_, err := s.Get(ctx, "ws-1")
	require.Error(t, err, msgAndArgs...)
	require.NotErrorIs(t, err, notionauth.ErrGrantNotFound, msgAndArgs...)
	var se *notionauth.StoreError
	require.ErrorAs(t, err, &se, msgAndArgs...)
	if want != nil {
		require.ErrorIs(t, err, want, msgAndArgs...)
	}
	_, err = s.Update(ctx, "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		t.Error("fn called on a damaged store")
		return nil, nil
	})
	require.ErrorAs(t, err, &se, msgAndArgs...)
	assert.Equal(t, before, readFile(t, s.Path), msgAndArgs...)
	assert.NotContains(t, err.Error(), testAccessToken)
}

func TestFileStoreDamagedFile(t *testing.T) {
	key := newKey(t)
	s := newStore(t, key)
	putGrant(t, s, "ws-1")
	good := readFile(t, s.Path)

	t.Run("FlippedByte", func(t *testing.T) {
		// Every byte of the encrypted file matters: header, nonce, length,
		// ciphertext and tag.
		for i := range good {
			data := bytes.Clone(good)
			data[i] ^= 0x01
			require.NoError(t, os.WriteFile(s.Path, data, 0o600))
			checkUnreadable(t, s, nil, "byte %d flipped", i)
		}
	})

	t.Run("Truncated", func(t *testing.T) {
		for n := 1; n < len(good); n++ {
			require.NoError(t, os.WriteFile(s.Path, good[:n], 0o600))
			checkUnreadable(t, s, notionauth.ErrCorrupt, "truncated to %d of %d bytes", n, len(good))
		}
	})

	t.Run("TrailingBytes", func(t *testing.T) {
		require.NoError(t, os.WriteFile(s.Path, append(bytes.Clone(good), 0), 0o600))
		checkUnreadable(t, s, notionauth.ErrCorrupt)
	})

	t.Run("PlaintextTruncated", func(t *testing.T) {
		ps := newStore(t, nil)
		putGrant(t, ps, "ws-1")
		plain := bytes.TrimRight(readFile(t, ps.Path), "\n")
		for n := 1; n < len(plain); n++ {
			require.NoError(t, os.WriteFile(ps.Path, plain[:n], 0o600))
			checkUnreadable(t, ps, notionauth.ErrCorrupt, "truncated to %d of %d bytes", n, len(plain))
		}
	})

	t.Run("Garbage", func(t *testing.T) {
		for _, data := range []string{"hello", "\x00\x00\x00", "[]", "null", `{"version":1,"grants":{"ws-1":null}}`, `{"grants":{}}`, `{"version":"1"}`} {
			ps := &Store{Path: s.Path}
			require.NoError(t, os.WriteFile(s.Path, []byte(data), 0o600))
			checkUnreadable(t, ps, nil, "file %q", data)
		}
	})

	t.Run("PlaintextFlippedBit", func(t *testing.T) {
		// Plaintext has no checksum, but a flipped bit in a field's name
		// must not make a grant, or every grant, silently disappear: the
		// next Update would write the loss over the file. Found by
		// FuzzFileStoreFile.
		ps := newStore(t, nil)
		putGrant(t, ps, "ws-1")
		plain := readFile(t, ps.Path)
		for _, tc := range []struct{ from, to string }{
			{`"grants"`, "\"gr`nts\""}, // every grant
			{`"grants"`, `"graots"`},
			{`"token"`, `"tokeo"`},           // the token of a grant
			{`"updated"`, `"updatec"`},       // a grant's field
			{`"token_type"`, `"uoken_type"`}, // a token's
			{`"user_email"`, `"user_emaim"`}, // an owner's
		} {
			damaged := strings.Replace(string(plain), tc.from, tc.to, 1)
			require.NotEqual(t, string(plain), damaged, tc.from)
			require.NoError(t, os.WriteFile(ps.Path, []byte(damaged), 0o600))
			checkUnreadable(t, ps, notionauth.ErrCorrupt, "%s flipped to %s", tc.from, tc.to)
		}
	})

	t.Run("PlaintextNoGrants", func(t *testing.T) {
		// A file that says nothing about grants is not an empty store.
		ps := &Store{Path: s.Path}
		for _, data := range []string{`{"version":1}`, `{"version":1,"grants":null}`, `{"grants":{},"version":1,"grants":null}`} {
			require.NoError(t, os.WriteFile(s.Path, []byte(data), 0o600))
			checkUnreadable(t, ps, notionauth.ErrCorrupt, "file %q", data)
		}
	})

	t.Run("PlaintextTrailingData", func(t *testing.T) {
		ps := &Store{Path: s.Path}
		for _, data := range []string{`{"version":1,"grants":{}}{}`, `{"version":1,"grants":{}} x`, `{"version":1,"grants":{}}]`} {
			require.NoError(t, os.WriteFile(s.Path, []byte(data), 0o600))
			checkUnreadable(t, ps, notionauth.ErrCorrupt, "file %q", data)
		}
	})

	t.Run("NewerTokenFormat", func(t *testing.T) {
		ps := newStore(t, nil)
		putGrant(t, ps, "ws-1")
		plain := readFile(t, ps.Path)
		damaged := strings.Replace(string(plain), `"v": 1,`, `"v": 2,`, 1)
		require.NotEqual(t, string(plain), damaged)
		require.NoError(t, os.WriteFile(ps.Path, []byte(damaged), 0o600))
		checkUnreadable(t, ps, notionauth.ErrUnsupportedFormat)
	})

	t.Run("NewerFormat", func(t *testing.T) {
		ps := &Store{Path: s.Path}
		require.NoError(t, os.WriteFile(s.Path, []byte(`{"version":2,"grants":{}}`), 0o600))
		checkUnreadable(t, ps, notionauth.ErrUnsupportedFormat)

		data := bytes.Clone(good)
		data[5] = 2
		require.NoError(t, os.WriteFile(s.Path, data, 0o600))
		checkUnreadable(t, s, notionauth.ErrUnsupportedFormat)
	})

	t.Run("PathIsDirectory", func(t *testing.T) {
		ds := &Store{Path: t.TempDir()}
		_, err := ds.Get(context.Background(), "ws-1")
		var se *notionauth.StoreError
		require.ErrorAs(t, err, &se)
		_, err = ds.Update(context.Background(), "ws-1", increment)
		require.ErrorAs(t, err, &se)
	})

	t.Run("MissingDirectory", func(t *testing.T) {
		ms := &Store{Path: filepath.Join(t.TempDir(), "no", "such", "grants")}
		_, err := ms.Update(context.Background(), "ws-1", increment)
		require.ErrorIs(t, err, fs.ErrNotExist)
		var se *notionauth.StoreError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "update", se.Op)
	})
}

// TestFileStoreVersionAtLimit: a grant whose Version cannot grow (damage,
// or an edit) is refused by Update before fn runs, rather than stored
// with a version that overflowed, which would make the whole file
// unreadable. Delete still removes it, and the other grants stay.
func TestFileStoreVersionAtLimit(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	putGrant(t, s, "ws-1")
	putGrant(t, s, "ws-2")
	plain := readFile(t, s.Path)
	i := strings.LastIndex(string(plain), `"version": 1`) // a grant's, not the file's
	require.GreaterOrEqual(t, i, 0, "%s", plain)
	damaged := string(plain[:i]) + `"version": 9223372036854775807` + string(plain[i+len(`"version": 1`):])
	require.NoError(t, os.WriteFile(s.Path, []byte(damaged), 0o600))
	grants, err := decodeStore([]byte(damaged), nil)
	require.NoError(t, err)
	var key string
	for k, g := range grants {
		if g.Version == math.MaxInt64 {
			key = k
		}
	}
	require.NotEmpty(t, key, "%s", damaged)

	g, err := s.Get(ctx, key)
	require.NoError(t, err, "Get reads it")
	assert.Equal(t, int64(math.MaxInt64), g.Version)
	for _, fn := range []func(*notionauth.Grant) (*notionauth.Grant, error){increment, func(*notionauth.Grant) (*notionauth.Grant, error) { return nil, nil }} {
		_, err = s.Update(ctx, key, func(g *notionauth.Grant) (*notionauth.Grant, error) {
			t.Error("fn called for a grant whose version cannot grow")
			return fn(g)
		})
		require.ErrorIs(t, err, notionauth.ErrCorrupt)
		var se *notionauth.StoreError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "update", se.Op)
		assert.Equal(t, damaged, string(readFile(t, s.Path)), "the file must not be written over")
	}

	require.NoError(t, s.Delete(ctx, key))
	_, err = s.Get(ctx, key)
	require.ErrorIs(t, err, notionauth.ErrGrantNotFound)
	other := map[string]string{"ws-1": "ws-2", "ws-2": "ws-1"}[key]
	g, err = s.Get(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, int64(1), g.Version)
}

func TestFileStoreEmptyOrMissingFileIsEmptyStore(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		create bool
	}{{"Missing", false}, {"Empty", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, newKey(t))
			if tc.create {
				require.NoError(t, os.WriteFile(s.Path, nil, 0o600))
			}
			_, err := s.Get(ctx, "ws-1")
			require.ErrorIs(t, err, notionauth.ErrGrantNotFound)
			require.NoError(t, s.Delete(ctx, "ws-1"))
			g := putGrant(t, s, "ws-1")
			assert.Equal(t, int64(1), g.Version)
		})
	}
}

// TestFileStoreCrashLeavesOldState simulates a crash in the middle of an
// Update: the temporary file is there, half written, and was never
// renamed. Readers see the old state; the next Update removes it.
func TestFileStoreCrashLeavesOldState(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newKey(t))
	old := putGrant(t, s, "ws-1")
	dir := filepath.Dir(s.Path)
	tmp := filepath.Join(dir, ".grants.tmp-123456")
	require.NoError(t, os.WriteFile(tmp, []byte("NAUTH\x01half"), 0o600))
	unrelated := filepath.Join(dir, "grants.tmp-notours")
	require.NoError(t, os.WriteFile(unrelated, []byte("keep"), 0o600))

	got, err := s.Get(ctx, "ws-1")
	require.NoError(t, err)
	assert.Equal(t, normal(old), normal(got))

	g, err := s.Update(ctx, "ws-1", increment)
	require.NoError(t, err)
	assert.Equal(t, int64(2), g.Version)
	_, err = os.Stat(tmp)
	assert.ErrorIs(t, err, fs.ErrNotExist, "the leftover temporary file must be removed")
	assert.FileExists(t, unrelated)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"grants", "grants.lock", "grants.lock.queue", "grants.tmp-notours"}, names)
}

// TestFileStoreLockWaitHonoursContext takes the file's lock from a second
// Store value on the same path, which has its own in-process lock, so
// that the calls wait on flock itself.
func TestFileStoreLockWaitHonoursContext(t *testing.T) {
	ctx := context.Background()
	s1 := newStore(t, nil)
	putGrant(t, s1, "ws-1")
	s2 := &Store{Path: s1.Path}

	entered, release := make(chan struct{}), make(chan struct{})
	holderDone := make(chan error, 1)
	go func() {
		_, err := s1.Update(ctx, "ws-1", func(g *notionauth.Grant) (*notionauth.Grant, error) {
			close(entered)
			<-release
			return increment(g)
		})
		holderDone <- err
	}()
	<-entered

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	start := time.Now()
	_, err := s2.Update(short(), "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		t.Error("fn called without the lock")
		return nil, nil
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	_, err = s2.Get(short(), "ws-1")
	require.ErrorIs(t, err, context.DeadlineExceeded, "Get must wait for a running Update")
	require.ErrorIs(t, s2.Delete(short(), "ws-1"), context.DeadlineExceeded)

	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = s2.Get(cctx, "ws-1")
	require.ErrorIs(t, err, context.Canceled)

	close(release)
	require.NoError(t, <-holderDone)
	g, err := s2.Get(ctx, "ws-1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), g.Version)
}

// TestFileStoreTurnstileWaitHonoursContext: a call waiting at the
// turnstile, held by another process waiting for the lock, gives up when
// its context is done, without taking the lock.
func TestFileStoreTurnstileWaitHonoursContext(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	putGrant(t, s, "ws-1")
	leave, err := lockPath(ctx, s.Path+".lock.queue", true) // a waiter elsewhere
	require.NoError(t, err)

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	_, err = s.Update(short(), "ws-1", func(*notionauth.Grant) (*notionauth.Grant, error) {
		t.Error("fn called past the turnstile")
		return nil, nil
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = s.Get(short(), "ws-1")
	require.ErrorIs(t, err, context.DeadlineExceeded, "Get must queue at the turnstile too")
	require.ErrorIs(t, s.Delete(short(), "ws-1"), context.DeadlineExceeded)
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = s.Get(cctx, "ws-1")
	require.ErrorIs(t, err, context.Canceled)

	// The waiter elsewhere gets the lock and leaves the turnstile: the
	// store works again, and nothing of the calls that gave up remains.
	unlock, err := lockPath(ctx, s.Path+".lock", true)
	require.NoError(t, err)
	leave()
	unlock()
	g, err := s.Update(ctx, "ws-1", increment)
	require.NoError(t, err)
	assert.Equal(t, int64(2), g.Version)
}

// TestFileStoreSharedLock: Gets share the lock with each other, Updates
// do not.
func TestFileStoreSharedLock(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	putGrant(t, s, "ws-1")
	unlock, err := lockPath(ctx, s.Path+".lock", false) // a reader elsewhere
	require.NoError(t, err)
	defer unlock()

	g, err := s.Get(ctx, "ws-1")
	require.NoError(t, err, "a Get must not wait for another reader")
	assert.Equal(t, int64(1), g.Version)

	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.Update(tctx, "ws-1", increment)
	require.ErrorIs(t, err, context.DeadlineExceeded, "an Update must wait for readers")
}

func TestFileStorePrintsNoSecret(t *testing.T) {
	key := newKey(t)
	s := &Store{Path: "/var/lib/app/grants", EncryptionKey: key}
	secrets := []string{
		string(key), hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
		base64.StdEncoding.EncodeToString(key), strings.Trim(fmt.Sprint([]byte(key)), "[]"),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range []any{s, []*Store{s}, struct{ S *Store }{s}} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range secrets {
				assert.NotContains(t, out, secret, "fmt %s of %T", verb, v)
			}
		}
	}
	assert.Equal(t, `filestore.Store{Path: "/var/lib/app/grants", EncryptionKey: [redacted AES-256 key]}`, s.String())
	assert.Equal(t, s.String(), s.GoString())
	assert.Equal(t, `filestore.Store{Path: "p", EncryptionKey: nil (plaintext)}`, (&Store{Path: "p"}).String())
	assert.Contains(t, (&Store{EncryptionKey: key[:5]}).String(), "invalid size 5")
	assert.NotContains(t, notionauth.KeySizeError(5).Error(), string(key[:5]))
}

const (
	helperEnv        = "NOTIONAUTH_STORE_HELPER"
	helperPathEnv    = "NOTIONAUTH_STORE_HELPER_PATH"
	helperKeyEnv     = "NOTIONAUTH_STORE_HELPER_KEY"
	helperUpdatesEnv = "NOTIONAUTH_STORE_HELPER_UPDATES"
	helperStartEnv   = "NOTIONAUTH_STORE_HELPER_START"
)

// TestHelperProcess is not a test: TestFileStoreProcesses runs the test
// binary again with -test.run=^TestHelperProcess$ and helperEnv set, and
// this function then does the child's share of the Updates.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	key, err := hex.DecodeString(os.Getenv(helperKeyEnv))
	require.NoError(t, err)
	updates, err := strconv.Atoi(os.Getenv(helperUpdatesEnv))
	require.NoError(t, err)
	s, err := New(os.Getenv(helperPathEnv), key)
	require.NoError(t, err)

	// Start together with the other processes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(os.Getenv(helperStartEnv)); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "never told to start")
		time.Sleep(time.Millisecond)
	}
	runUpdates(t, s, updates)
}

// runUpdates does n Updates incrementing the counter of "shared", some
// from concurrent goroutines.
func runUpdates(t *testing.T, s *Store, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				_, err := s.Update(ctx, "shared", increment)
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestFileStoreProcesses runs several OS processes, and this one, that
// each do many Updates of one key of one Store at the same time: none
// may be lost.
func TestFileStoreProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const (
		procs   = 4  // children; this process takes part too
		updates = 20 // per process; a multiple of 4 (runUpdates' goroutines)
	)
	key := newKey(t)
	s := newStore(t, key)
	start := filepath.Join(filepath.Dir(s.Path), "start")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	children := make([]*child, procs)
	for i := range children {
		c := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")}
		c.cmd.Env = append(os.Environ(),
			helperEnv+"=1",
			helperPathEnv+"="+s.Path,
			helperKeyEnv+"="+hex.EncodeToString(key),
			helperUpdatesEnv+"="+strconv.Itoa(updates),
			helperStartEnv+"="+start,
		)
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
		require.NoError(t, c.cmd.Start())
		children[i] = c
	}
	require.NoError(t, os.WriteFile(start, nil, 0o600))
	runUpdates(t, s, updates)
	for i, c := range children {
		err := c.cmd.Wait()
		require.NoError(t, err, "child %d:\n%s", i, c.out.String())
		require.Contains(t, c.out.String(), "--- PASS: TestHelperProcess", "child %d ran no updates:\n%s", i, c.out.String())
	}

	g, err := s.Get(ctx, "shared")
	require.NoError(t, err)
	const total = (procs + 1) * updates
	assert.Equal(t, int64(total), g.Version)
	assert.Equal(t, total, counter(t, g), "an update was lost")
}

func TestStoreErrorMessage(t *testing.T) {
	err := &notionauth.StoreError{Op: "update", Key: "ws-1", Path: "/x/grants", Err: fmt.Errorf("%w: truncated JSON", notionauth.ErrCorrupt)}
	assert.Equal(t, `notionauth: store /x/grants: update "ws-1": store data is damaged or truncated: truncated JSON`, err.Error())
	assert.ErrorIs(t, err, notionauth.ErrCorrupt)
	assert.False(t, errors.Is(err, notionauth.ErrWrongKey))
	assert.Equal(t, `notionauth: store : get "": <nil>`, (&notionauth.StoreError{Op: "get"}).Error())
}

func TestFileStoreJSONAndSlogRedactKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xAB}, 32)
	fs, err := New(filepath.Join(t.TempDir(), "grants"), key)
	require.NoError(t, err)
	js, err := json.Marshal(fs)
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("store", "fs", fs)
	for _, out := range []string{string(js), buf.String()} {
		assert.NotContains(t, out, base64.StdEncoding.EncodeToString(key))
		assert.NotContains(t, out, hex.EncodeToString(key))
		assert.NotContains(t, out, string(key))
	}
}

// TestFileStorePrintsNoKeyByValue: a Store held by value in the app's own
// struct is printed field by field (its redacting methods have pointer
// receivers, which fmt, slog and encoding/json cannot call on a copy);
// its EncryptionKey, a notionauth.SecretKey, redacts itself there too.
func TestFileStorePrintsNoKeyByValue(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	type app struct {
		Name  string
		Store Store // used as &app.Store
	}
	a := &app{Name: "app", Store: Store{Path: filepath.Join(t.TempDir(), "grants"), EncryptionKey: key}}
	putGrant(t, &a.Store, "ws-1") // the in-process locks are made
	secrets := []string{
		string(key), hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
		base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		strings.Trim(fmt.Sprint(key), "[]"), testAccessToken, testRefreshToken,
	}
	// Copies of the struct and of the Store, as fmt.Println(app) or
	// slog.Any("store", app.Store) make them. They are made by reflection:
	// go vet rightly objects to copying the locks in them, but printing
	// such a copy is what is tested.
	byValue := reflect.ValueOf(a).Elem().Interface()
	storeByValue := reflect.ValueOf(&a.Store).Elem().Interface()
	for _, v := range []any{byValue, storeByValue, a, []any{byValue}, map[string]any{"app": byValue}} {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		js, err := json.Marshal(v)
		require.NoError(t, err)
		var text, jsonLog bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("print", "v", v)
		slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("print", "v", v)
		outs = append(outs, string(js), text.String(), jsonLog.String())
		for i, out := range outs {
			for _, secret := range secrets {
				assert.NotContains(t, out, secret, "output %d of %T", i, v)
			}
		}
		assert.Contains(t, outs[0], "[redacted]", "the key is shown redacted: %s", outs[0])
	}
}

const (
	helperLoopEnv  = "NOTIONAUTH_STORE_HELPER_LOOP"  // what TestHelperLoop does: "update" or "get"
	helperReadyEnv = "NOTIONAUTH_STORE_HELPER_READY" // a file TestHelperLoop creates once it loops
	helperStopEnv  = "NOTIONAUTH_STORE_HELPER_STOP"  // a file that tells TestHelperLoop to stop
)

// loopReaders is how many goroutines TestHelperLoop runs Gets from, so
// that their shared locks overlap.
const loopReaders = 4

// TestHelperLoop is not a test: TestFileStoreFairLock runs the test binary
// again with -test.run=^TestHelperLoop$ and helperLoopEnv set, and this
// function then takes the store's lock in a tight loop until told to stop:
// Updates of "shared" with 0-5 ms of work in each, or Gets from several
// goroutines at once (of "other"). It prints how many Updates it made.
func TestHelperLoop(t *testing.T) {
	mode := os.Getenv(helperLoopEnv)
	if mode == "" {
		return
	}
	key, err := hex.DecodeString(os.Getenv(helperKeyEnv))
	require.NoError(t, err)
	s, err := New(os.Getenv(helperPathEnv), key)
	require.NoError(t, err)
	ready, stop := os.Getenv(helperReadyEnv), os.Getenv(helperStopEnv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopped := func() bool {
		_, err := os.Stat(stop)
		return err == nil || ctx.Err() != nil
	}

	var updates atomic.Int64
	var readyOnce sync.Once
	markReady := func() { readyOnce.Do(func() { require.NoError(t, os.WriteFile(ready, nil, 0o600)) }) }
	loop := func() error {
		for !stopped() {
			switch mode {
			case "update":
				_, err := s.Update(ctx, "shared", func(g *notionauth.Grant) (*notionauth.Grant, error) {
					time.Sleep(time.Duration(mathrand.Int64N(int64(5 * time.Millisecond))))
					return increment(g)
				})
				if err != nil {
					return err
				}
				updates.Add(1)
			case "get":
				if _, err := s.Get(ctx, "other"); err != nil {
					return err
				}
			default:
				return fmt.Errorf("unknown loop %q", mode)
			}
			markReady()
		}
		return nil
	}
	goroutines := 1
	if mode == "get" {
		goroutines = loopReaders
	}
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() { errs <- loop() }()
	}
	for range goroutines {
		require.NoError(t, <-errs)
	}
	fmt.Printf("updates=%d\n", updates.Load())
}

// TestFileStoreFairLock: while other processes take the store's lock in
// a tight loop, an Update with a deadline of a second still gets its turn.
// flock alone is not fair: a process that releases it and takes it again
// at once starves the others, and so do readers whose shared locks
// overlap.
func TestFileStoreFairLock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, loops := range [][]string{{"update"}, {"get"}, {"update", "update"}, {"update", "get"}} {
		t.Run(strings.Join(loops, "+"), func(t *testing.T) { testFairLock(t, loops) })
	}
}

// testFairLock starts a child process for each of loops (see
// TestHelperLoop), then makes Updates of its own, each with a deadline of
// a second, and checks that none times out and none is lost.
func testFairLock(t *testing.T, loops []string) {
	const (
		updates  = 30 // by this process, one after the other
		deadline = time.Second
	)
	key := newKey(t)
	s := newStore(t, key)
	putGrant(t, s, "other")
	dir := filepath.Dir(s.Path)
	stop := filepath.Join(dir, "stop")
	t.Cleanup(func() {
		_ = os.WriteFile(stop, nil, 0o600) // stops the children if the test failed early
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type child struct {
		cmd   *exec.Cmd
		out   bytes.Buffer
		ready string
		done  chan error
	}
	children := make([]*child, len(loops))
	for i, loop := range loops {
		c := &child{
			cmd:   exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperLoop$", "-test.count=1", "-test.v"),
			ready: filepath.Join(dir, "ready-"+strconv.Itoa(i)),
			done:  make(chan error, 1),
		}
		c.cmd.Env = append(os.Environ(),
			helperLoopEnv+"="+loop,
			helperPathEnv+"="+s.Path,
			helperKeyEnv+"="+hex.EncodeToString(key),
			helperReadyEnv+"="+c.ready,
			helperStopEnv+"="+stop,
		)
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
		require.NoError(t, c.cmd.Start())
		go func() { c.done <- c.cmd.Wait() }()
		children[i] = c
	}
	for i, c := range children {
		for {
			if _, err := os.Stat(c.ready); err == nil {
				break
			}
			select {
			case err := <-c.done:
				t.Fatalf("child %d exited before looping: %v\n%s", i, err, c.out.String())
			case <-time.After(time.Millisecond):
			}
		}
	}

	timeouts, slowest := 0, time.Duration(0)
	for range updates {
		uctx, ucancel := context.WithTimeout(ctx, deadline)
		start := time.Now()
		_, err := s.Update(uctx, "shared", increment)
		ucancel()
		slowest = max(slowest, time.Since(start))
		if errors.Is(err, context.DeadlineExceeded) {
			timeouts++
			continue
		}
		require.NoError(t, err)
	}
	require.NoError(t, os.WriteFile(stop, nil, 0o600))
	childUpdates := 0
	for i, c := range children {
		require.NoError(t, <-c.done, "child %d:\n%s", i, c.out.String())
		var n int
		out := c.out.String()
		_, err := fmt.Sscanf(out[max(strings.Index(out, "updates="), 0):], "updates=%d", &n)
		require.NoError(t, err, "child %d:\n%s", i, out)
		childUpdates += n
	}
	t.Logf("against %s: %d of %d Updates timed out (deadline %v); slowest %v; the children made %d Updates",
		strings.Join(loops, "+"), timeouts, updates, deadline, slowest, childUpdates)

	assert.Zero(t, timeouts, "Updates that timed out waiting for the lock, of %d", updates)
	g, err := s.Get(ctx, "shared")
	require.NoError(t, err)
	assert.Equal(t, updates-timeouts+childUpdates, counter(t, g), "an update was lost")
}
