package filestore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/internal/envelope"
)

// fuzzStoreKey is the key of the encrypted files FuzzFileStoreFile reads.
var fuzzStoreKey = func() []byte { k := sha256.Sum256([]byte("notionauth FuzzFileStoreFile")); return k[:] }()

// fuzzStoreFiles returns files a Store writes, plaintext (key nil) or
// encrypted with key: empty, with one grant, and with a few grants, one
// of them revoked.
func fuzzStoreFiles(f *testing.F, key []byte) [][]byte {
	f.Helper()
	ctx := context.Background()
	s, err := New(filepath.Join(f.TempDir(), "grants"), key)
	if err != nil {
		f.Fatal(err)
	}
	var files [][]byte
	snapshot := func() {
		data, err := os.ReadFile(s.Path)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, data)
	}
	put := func(key string, g *notionauth.Grant) {
		if _, err := s.Update(ctx, key, func(*notionauth.Grant) (*notionauth.Grant, error) { return g, nil }); err != nil {
			f.Fatal(err)
		}
	}
	put("ws-1", &notionauth.Grant{Token: grantToken()})
	if err := s.Delete(ctx, "ws-1"); err != nil {
		f.Fatal(err)
	}
	snapshot() // no grants
	put("ws-1", &notionauth.Grant{Token: grantToken()})
	snapshot()
	tok := grantToken()
	tok.WorkspaceID, tok.AccessToken = "ws-2", "ntn_second_access_token_0000"
	put("ws-2", &notionauth.Grant{Token: tok})
	put("ws-3", &notionauth.Grant{Token: grantToken(), Revoked: time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC), RevokedReason: "invalid_grant"})
	put("user \"quoted\" é", &notionauth.Grant{})
	put("ws-1", &notionauth.Grant{Token: grantToken()}) // version 2
	snapshot()

	// A grant whose version cannot grow, as no Update writes it.
	data, err := encodeStore(map[string]*notionauth.Grant{"ws-1": {Token: grantToken(), Version: math.MaxInt64}}, key)
	if err != nil {
		f.Fatal(err)
	}
	return append(files, data)
}

// fuzzDamage returns truncations and bit flips of data: the damage a crash
// of something other than the store, a bad disk or a careless edit does.
func fuzzDamage(data []byte) [][]byte {
	var out [][]byte
	n := len(data)
	for _, cut := range []int{1, 4, 5, envelope.HeaderSize - 1, envelope.HeaderSize, envelope.HeaderSize + 1, n / 3, n / 2, n - 17, n - 1} {
		if cut > 0 && cut < n {
			out = append(out, bytes.Clone(data[:cut]))
		}
	}
	for _, at := range []int{0, 3, 5, 6, envelope.HeaderSize - 1, envelope.HeaderSize, n / 4, n / 2, n - 16, n - 1} {
		if at >= 0 && at < n {
			for _, bit := range []byte{0x01, 0x20} {
				d := bytes.Clone(data)
				d[at] ^= bit
				out = append(out, d)
			}
		}
	}
	return out
}

// FuzzFileStoreFile writes arbitrary bytes as a Store's file and calls
// Get, Update and Delete on it, with and without a key. They must not
// panic or hang; a file that is not a store must be refused with a typed
// error, never read as an empty (or smaller) store, and never written
// over; a file that is one must keep every grant through an Update.
func FuzzFileStoreFile(f *testing.F) {
	for _, key := range [][]byte{nil, fuzzStoreKey} {
		for _, file := range fuzzStoreFiles(f, key) {
			for _, encrypted := range []bool{false, true} {
				f.Add(file, encrypted)
			}
			for _, d := range fuzzDamage(file) {
				f.Add(d, key != nil)
			}
		}
	}
	for _, s := range []string{"", " ", "{}", "null", "[]", `{"version":1,"grants":{}}`, "NAUTH", "NAUTH\x01"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}

	f.Fuzz(func(t *testing.T, data []byte, encrypted bool) {
		var key []byte
		if encrypted {
			key = fuzzStoreKey
		}
		s := &Store{Path: filepath.Join(t.TempDir(), "grants"), EncryptionKey: key}
		if err := os.WriteFile(s.Path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		checkFuzzedFile(t, s, data)
	})
}

// checkFuzzedFile runs Get, Update and Delete on the file at s.Path, which
// holds data, and checks what they do.
func checkFuzzedFile(t *testing.T, s *Store, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Every call must return well within the deadline: nothing else holds
	// the lock, so a call that waits for it is a hang.
	call := func(name string, fn func() error) error {
		done := make(chan error, 1)
		go func() { done <- fn() }()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s hangs", name)
			return nil
		}
	}
	unchanged := func(op string) {
		t.Helper()
		got, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatalf("after %s: %v", op, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s failed but wrote the file over", op)
		}
	}

	grants, decodeErr := decodeStore(data, s.EncryptionKey)
	key := "ws-1"
	if keys := sortedKeys(grants); len(keys) > 0 {
		key = keys[0]
	}

	var got *notionauth.Grant
	getErr := call("Get", func() (err error) { got, err = s.Get(ctx, key); return err })
	if decodeErr != nil {
		// Refused: with a typed error, from every method, without calling
		// fn or writing the file.
		checkRefusal(t, "Get", getErr)
		var called bool
		updateErr := call("Update", func() error {
			_, err := s.Update(ctx, key, func(g *notionauth.Grant) (*notionauth.Grant, error) { called = true; return g, nil })
			return err
		})
		checkRefusal(t, "Update", updateErr)
		if called {
			t.Fatal("Update called fn on a file it cannot read")
		}
		unchanged("Update")
		checkRefusal(t, "Delete", call("Delete", func() error { return s.Delete(ctx, key) }))
		unchanged("Delete")
		return
	}

	// Read: it must be a store, holding what the file holds.
	checkReadable(t, data, s.EncryptionKey, grants)
	switch want := grants[key]; {
	case want == nil && !errors.Is(getErr, notionauth.ErrGrantNotFound):
		t.Fatalf("Get(%q) of a store without it: %v, want notionauth.ErrGrantNotFound", key, getErr)
	case want != nil && getErr != nil:
		t.Fatalf("Get(%q): %v", key, getErr)
	case want != nil && !equalGrants(got, want):
		t.Fatalf("Get(%q) = %v, want %v", key, got, want)
	}

	// Update keeps every other grant, or fails without writing.
	var old, updated *notionauth.Grant
	err := call("Update", func() (err error) {
		updated, err = s.Update(ctx, key, func(g *notionauth.Grant) (*notionauth.Grant, error) {
			old = g.Clone()
			if g == nil {
				g = &notionauth.Grant{}
			}
			g.Token = grantToken()
			return g, nil
		})
		return err
	})
	if err != nil {
		unchanged("Update")
	} else {
		if !equalGrants(old, grants[key]) {
			t.Fatalf("Update(%q) passed fn %v, want %v", key, old, grants[key])
		}
		after := readBack(t, s, "Update")
		wantKeys := sortedKeys(grants)
		if grants[key] == nil {
			wantKeys = append(wantKeys, key)
			slices.Sort(wantKeys)
		}
		checkKept(t, "Update", grants, after, key, wantKeys)
		if !equalGrants(after[key], updated) {
			t.Fatalf("Update(%q) returned %v but stored %v", key, updated, after[key])
		}
		grants = after
	}

	// Delete removes the one grant.
	if err := call("Delete", func() error { return s.Delete(ctx, key) }); err != nil {
		t.Fatalf("Delete(%q) of a readable store: %v", key, err)
	}
	after := readBack(t, s, "Delete")
	wantKeys := slices.DeleteFunc(sortedKeys(grants), func(k string) bool { return k == key })
	checkKept(t, "Delete", grants, after, key, wantKeys)
}

// checkRefusal checks that err refuses a file with one of the store's
// typed errors.
func checkRefusal(t *testing.T, op string, err error) {
	t.Helper()
	var se *notionauth.StoreError
	if !errors.As(err, &se) {
		t.Fatalf("%s of an unreadable file: %v (%T), want a *notionauth.StoreError", op, err, err)
	}
	for _, want := range []error{notionauth.ErrCorrupt, notionauth.ErrWrongKey, notionauth.ErrKeyRequired, notionauth.ErrNotEncrypted, notionauth.ErrUnsupportedFormat} {
		if errors.Is(err, want) {
			return
		}
	}
	t.Fatalf("%s of an unreadable file: %v, want one of the store's sentinel errors", op, err)
}

// readBack reads the store's file after a successful op: it must be
// readable.
func readBack(t *testing.T, s *Store, op string) map[string]*notionauth.Grant {
	t.Helper()
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatalf("after %s: %v", op, err)
	}
	grants, err := decodeStore(data, s.EncryptionKey)
	if err != nil {
		t.Fatalf("%s wrote a file it cannot read: %v", op, err)
	}
	return grants
}

// checkKept checks that after op on key, the store holds wantKeys, and
// every grant but key's as it was.
func checkKept(t *testing.T, op string, before, after map[string]*notionauth.Grant, key string, wantKeys []string) {
	t.Helper()
	if got := sortedKeys(after); !slices.Equal(got, wantKeys) {
		t.Fatalf("after %s(%q) the store holds %q, want %q", op, key, got, wantKeys)
	}
	for k, g := range after {
		if k != key && !equalGrants(g, before[k]) {
			t.Fatalf("%s(%q) changed the grant of %q: %v, was %v", op, key, k, g, before[k])
		}
	}
}

func sortedKeys(grants map[string]*notionauth.Grant) []string {
	keys := make([]string, 0, len(grants))
	for k := range grants {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// equalGrants compares grants as stored: times as instants.
func equalGrants(a, b *notionauth.Grant) bool {
	if a == nil || b == nil {
		return a == b
	}
	ta, tb := a.Token, b.Token
	a, b = a.Clone(), b.Clone()
	a.Token, b.Token = nil, nil
	if !a.Revoked.Equal(b.Revoked) || !a.Updated.Equal(b.Updated) {
		return false
	}
	a.Revoked, a.Updated, b.Revoked, b.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if *a != *b {
		return false
	}
	if ta == nil || tb == nil {
		return ta == tb
	}
	ca, cb := *ta, *tb
	if !ca.Obtained.Equal(cb.Obtained) {
		return false
	}
	ca.Obtained, cb.Obtained = time.Time{}, time.Time{}
	return ca == cb
}

// checkReadable checks, without decodeStore, that data (a file that
// decodeStore read as grants) is a store file: if key is set, sealed with
// it; and that its JSON names only the format's fields and holds the same
// grants.
func checkReadable(t *testing.T, data, key []byte, grants map[string]*notionauth.Grant) {
	t.Helper()
	if len(data) == 0 {
		if len(grants) != 0 {
			t.Fatalf("an empty file read as %d grants", len(grants))
		}
		return
	}
	plain := data
	if key != nil {
		const header = 22 // "NAUTH", version 1, 12-byte nonce, uint32 length
		if len(data) < header || string(data[:5]) != "NAUTH" || data[5] != 1 ||
			int(binary.BigEndian.Uint32(data[18:22])) != len(data)-header {
			t.Fatalf("a file without a valid header was read as a store")
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err = gcm.Open(nil, data[6:18], data[header:], data[:header]); err != nil {
			t.Fatalf("a file that does not authenticate was read as a store")
		}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(plain, &top); err != nil || top == nil {
		t.Fatalf("a file that is not a JSON object was read as a store (%v)", err)
	}
	// encoding/json matches field names without regard to case, and so
	// does this check.
	fields := map[string][]string{
		"":      {"version", "grants"},
		"grant": {"token", "revoked", "revoked_reason", "updated", "version"},
		"token": {"v", "access_token", "refresh_token", "token_type", "bot_id", "workspace_id",
			"workspace_name", "workspace_icon", "owner", "duplicated_template_id", "obtained"},
		"owner": {"type", "user_id", "user_name", "user_email", "avatar_url"},
	}
	known := func(level, name string) bool {
		return slices.ContainsFunc(fields[level], func(f string) bool { return strings.EqualFold(f, name) })
	}
	var rawGrants []json.RawMessage
	for name, raw := range top {
		if !known("", name) {
			t.Fatalf("a file with the unknown field %q was read as a store", name)
		}
		if strings.EqualFold(name, "grants") {
			rawGrants = append(rawGrants, raw)
		}
	}
	if len(rawGrants) != 1 {
		t.Fatalf("a file with %d grants objects was read as a store of %d grants", len(rawGrants), len(grants))
	}
	var entries map[string]map[string]json.RawMessage
	if err := json.Unmarshal(rawGrants[0], &entries); err != nil || entries == nil {
		t.Fatalf("a file whose grants are not an object was read as a store of %d grants (%v)", len(grants), err)
	}
	if len(entries) != len(grants) {
		t.Fatalf("a file of %d grants was read as a store of %d", len(entries), len(grants))
	}
	for k, entry := range entries {
		if grants[k] == nil {
			t.Fatalf("the file's grant %q was not read", k)
		}
		for name, raw := range entry {
			if !known("grant", name) {
				t.Fatalf("a grant with the unknown field %q was read", name)
			}
			if !strings.EqualFold(name, "token") || string(raw) == "null" {
				continue
			}
			var tok map[string]json.RawMessage
			if err := json.Unmarshal(raw, &tok); err != nil {
				t.Fatalf("a grant whose token is not an object was read (%v)", err)
			}
			versioned := false
			for name, raw := range tok {
				if !known("token", name) {
					t.Fatalf("a token with the unknown field %q was read", name)
				}
				if strings.EqualFold(name, "owner") && string(raw) != "null" {
					var owner map[string]json.RawMessage
					if err := json.Unmarshal(raw, &owner); err != nil {
						t.Fatalf("a token whose owner is not an object was read (%v)", err)
					}
					for name := range owner {
						if !known("owner", name) {
							t.Fatalf("an owner with the unknown field %q was read", name)
						}
					}
				}
				var v int
				if strings.EqualFold(name, "v") {
					if json.Unmarshal(raw, &v) != nil || v != 1 { // EncodeToken's version
						t.Fatalf("a token of format version %s was read", raw)
					}
					versioned = true
				}
			}
			if !versioned {
				t.Fatalf("a token without a format version was read")
			}
		}
	}
}
