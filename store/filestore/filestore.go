// Package filestore is a [notionauth.Store] that keeps every grant in one
// file, encrypted with AES-256-GCM when given a key and locked across the
// processes of one machine: see [Store].
package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/internal/envelope"
	"github.com/notionauth/notionauth/internal/page"
)

// Store is a [notionauth.Store] that keeps every grant in one file, for
// apps on one machine, including several processes sharing the file.
// Updates are serialised across goroutines and processes by an exclusive
// flock(2) on the sibling file Path+".lock"; Gets and Lists take a shared
// lock. Because the whole store is one file, an Update of one key also
// waits for Updates of every other key, and every call reads the whole
// file, so a Store suits tens to a few thousands of grants with infrequent
// refreshes; use a server-backed store beyond that.
//
// flock itself is not fair: a process that releases the lock and takes it
// again at once could keep it from the others for as long as it loops. So
// a second sibling file, Path+".lock.queue", is a turnstile: an Update or
// a read first takes an exclusive flock on it, then the lock on
// Path+".lock", and only then releases the turnstile. Whoever holds the
// turnstile is next to take the lock: a holder that comes back for it
// waits at the turnstile meanwhile, and so do new reads, so that a
// waiting Update is not starved by readers either. The turnstile is held
// only while waiting for the lock, never while reading, writing or running
// fn. (Several waiters take the turnstile in no set order, so this is
// fairness enough for a deadline of a second, not a strict queue.)
//
// Every Update reads the file, applies fn, and writes the result to a new
// temporary file in the same directory (mode 0600), which is synced and
// then renamed over Path; the directory is synced too. A crash therefore
// leaves either the old file or the new one, never a mix, and a temporary
// file left behind by a crash is ignored (and removed by the next Update).
//
// Path is replaced on every Update, so it must not be a symbolic link: the
// link itself would be replaced by the new file. Reads create the two lock
// files (mode 0600, empty) when they do not exist, so the directory must
// be writable for reads too.
//
// An empty or missing file is an empty store. A file that cannot be read
// as a store is an error (a *[notionauth.StoreError] whose cause matches
// one of notionauth's store errors, such as [notionauth.ErrWrongKey] or
// [notionauth.ErrCorrupt]), never an empty store, and is never written
// over. That includes a plaintext file with a field name the format does
// not have, or without its "grants": a name damaged by one flipped bit
// would otherwise lose the grants under it. Tokens are kept in
// [notionauth.EncodeToken]'s form and read back with
// [notionauth.DecodeToken].
//
// File locking works on Linux, macOS, the BSDs and illumos; elsewhere
// every method returns an error matching errors.ErrUnsupported. flock is
// not reliable on network file systems, so Path must be on a local disk.
// Never delete or replace either lock file while processes use the store:
// a process that opened the new file would not exclude those holding the
// old one. Deleting them while no process uses the store is harmless.
//
// A Store is safe for concurrent use. Use it through a pointer (it may be
// a field of the app's own struct, used as &app.Store) and do not copy it
// after first use. The zero value with Path set is a plaintext store.
// Printing a Store, by pointer or by value, in any fmt verb, log/slog or
// JSON, never shows its key.
type Store struct {
	// Path is the store's file. Its directory must exist; the file is
	// created by the first Update, with mode 0600.
	Path string

	// EncryptionKey is a 32-byte AES-256 key: the file is encrypted with
	// AES-GCM and authenticated. nil: THE FILE IS PLAINTEXT, and anyone
	// who can read it (or a backup of it) has every access and refresh
	// token in it; mode 0600 is then the only protection. Any other
	// length is an error (*[notionauth.KeySizeError]), an empty non-nil
	// key too, so that a key that failed to load never silently means "no
	// encryption". It is a [notionauth.SecretKey], which prints as
	// [redacted] however it is printed.
	EncryptionKey notionauth.SecretKey

	mu   sync.Mutex    // guards sem and turn
	sem  chan struct{} // the in-process lock held by Update; made on first use
	turn chan struct{} // the in-process turnstile, held with the file's; made on first use
}

var _ notionauth.Store = (*Store)(nil)

// New returns a Store for the file at path, encrypted with key (32
// bytes), or in plaintext when key is nil. Any other key length, an empty
// non-nil key too, returns a *[notionauth.KeySizeError]. The key is
// copied.
func New(path string, key []byte) (*Store, error) {
	if path == "" {
		return nil, errors.New("filestore: New needs a path")
	}
	if key != nil && len(key) != envelope.KeySize {
		return nil, notionauth.KeySizeError(len(key))
	}
	s := &Store{Path: path}
	if key != nil {
		s.EncryptionKey = bytes.Clone(key)
	}
	return s, nil
}

// Get implements [notionauth.Store.Get]: it returns a copy of the grant
// kept for key, or [notionauth.ErrGrantNotFound].
func (s *Store) Get(ctx context.Context, key string) (*notionauth.Grant, error) {
	if err := notionauth.CheckKey(ctx, key); err != nil {
		return nil, err
	}
	grants, err := s.read(ctx)
	if err != nil {
		return nil, s.error("get", key, err)
	}
	g, ok := grants[key]
	if !ok {
		return nil, notionauth.ErrGrantNotFound
	}
	return g, nil
}

// List implements [notionauth.Store.List]. It reads the whole file under
// the shared lock, as Get does.
func (s *Store) List(ctx context.Context, after string, limit int) ([]*notionauth.Grant, error) {
	limit, err := notionauth.CheckList(ctx, limit)
	if err != nil {
		return nil, err
	}
	grants, err := s.read(ctx)
	if err != nil {
		return nil, s.error("list", "", err)
	}
	keys := page.Keys(grants, after, limit)
	out := make([]*notionauth.Grant, len(keys))
	for i, k := range keys {
		out[i] = grants[k] // read from the file just now: nobody else holds them
	}
	return out, nil
}

// read loads the file under the shared lock.
func (s *Store) read(ctx context.Context) (map[string]*notionauth.Grant, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.load()
}

// Update implements [notionauth.Store.Update]. While fn runs, the store
// holds the file's exclusive lock: other calls, in this process or any
// other, wait.
func (s *Store) Update(ctx context.Context, key string, fn func(*notionauth.Grant) (*notionauth.Grant, error)) (*notionauth.Grant, error) {
	if fn == nil {
		return notionauth.ApplyUpdate(key, nil, nil, time.Time{}) // its error for a nil fn, before any lock
	}
	return s.update(ctx, "update", key, fn)
}

// Delete removes the grant kept for key. Deleting an absent key is not an
// error and does not write the file.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.update(ctx, "delete", key, nil)
	return err
}

// update is Update, or Delete for a nil fn.
func (s *Store) update(ctx context.Context, op, key string, fn func(*notionauth.Grant) (*notionauth.Grant, error)) (*notionauth.Grant, error) {
	if err := notionauth.CheckKey(ctx, key); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, s.error(op, key, err)
	}
	// flock belongs to an open file, and each call opens the lock file
	// anew, so goroutines of this process exclude each other through it
	// too. The in-process lock spares them polling flock against each
	// other.
	release, err := s.lockProcess(ctx, &s.sem)
	if err != nil {
		return nil, s.error(op, key, err)
	}
	defer release()
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return nil, s.error(op, key, err)
	}
	defer unlock()
	if err := ctx.Err(); err != nil { // done while the lock was being taken
		return nil, err
	}

	grants, err := s.load()
	if err != nil {
		return nil, s.error(op, key, err)
	}
	old := grants[key]
	var stored *notionauth.Grant
	switch {
	case fn == nil && old == nil:
		return nil, nil // nothing to delete
	case fn == nil:
		delete(grants, key)
	case old != nil && old.Version == math.MaxInt64:
		// ApplyUpdate would refuse it too (see there), but without the
		// file's path.
		return nil, s.error(op, key, fmt.Errorf("%w: grant version %d cannot grow", notionauth.ErrCorrupt, old.Version))
	default:
		if stored, err = notionauth.ApplyUpdate(key, old, fn, time.Now()); err != nil {
			return nil, err
		}
		if stored == nil {
			if old == nil {
				return nil, nil
			}
			delete(grants, key)
		} else {
			grants[key] = stored
		}
	}
	if err := s.save(grants); err != nil {
		return nil, s.error(op, key, err)
	}
	return stored.Clone(), nil
}

// check returns why s cannot serve a call, if it cannot.
func (s *Store) check() error {
	if s.Path == "" {
		return errors.New("filestore: Store has no Path")
	}
	if s.EncryptionKey != nil && len(s.EncryptionKey) != envelope.KeySize {
		return notionauth.KeySizeError(len(s.EncryptionKey))
	}
	return nil
}

// error wraps err in a *notionauth.StoreError, except for context errors,
// which are returned as they are, as notionauth.MemoryStore does.
func (s *Store) error(op, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &notionauth.StoreError{Op: op, Key: key, Path: s.Path, Err: err}
}

// The store's lock files: Path+lockSuffix is the lock, Path+queueSuffix
// the turnstile in front of it.
const (
	lockSuffix  = ".lock"
	queueSuffix = ".lock.queue"
)

// lock takes the store's file lock, exclusive or shared, through the
// turnstile (see Store's doc): it waits for the turnstile, then for
// the lock, then leaves the turnstile to the next in line. It returns
// ctx's error if ctx is done at either stage. Goroutines of this process
// queue for the turnstile in process first, so that they do not poll
// flock against each other. unlock releases the lock.
func (s *Store) lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	leave, err := s.lockProcess(ctx, &s.turn)
	if err != nil {
		return nil, err
	}
	defer leave()
	leaveQueue, err := lockPath(ctx, s.Path+queueSuffix, true)
	if err != nil {
		return nil, err
	}
	defer leaveQueue()
	return lockPath(ctx, s.Path+lockSuffix, exclusive)
}

// lockProcess takes the in-process lock *sem (s.sem or s.turn), making it
// on first use, or returns ctx's error if ctx is done first.
func (s *Store) lockProcess(ctx context.Context, sem *chan struct{}) (release func(), err error) {
	s.mu.Lock()
	if *sem == nil {
		*sem = make(chan struct{}, 1)
	}
	c := *sem
	s.mu.Unlock()
	select {
	case c <- struct{}{}:
		return func() { <-c }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lockPath opens (creating it with mode 0600 if needed) the lock file at
// path and takes an exclusive or shared flock on it, polling until ctx is
// done. unlock releases the lock and closes the file.
func lockPath(ctx context.Context, path string, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(ctx, f, exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = unlockFile(f)
		f.Close() // closing releases the lock anyway
	}, nil
}

// load reads and decodes the store's file. A missing or empty file is an
// empty store.
func (s *Store) load() (map[string]*notionauth.Grant, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*notionauth.Grant{}, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeStore(data, s.EncryptionKey)
}

// save writes grants to a new file, syncs it, renames it over Path and
// syncs the directory.
func (s *Store) save(grants map[string]*notionauth.Grant) (err error) {
	data, err := encodeStore(grants, s.EncryptionKey)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(s.Path)
	if dir == "" {
		dir = "."
	}
	s.removeTemps(dir, base)
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil { // CreateTemp uses 0600; say it anyway
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), s.Path); err != nil {
		return err
	}
	return syncDir(dir)
}

// tempPrefix is how the names of the store's temporary files begin.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// removeTemps removes temporary files that a crashed Update left behind:
// they may hold secrets. It runs under the exclusive lock, when no other
// Update can be writing one, and ignores failures.
func (s *Store) removeTemps(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// String describes s without its key.
func (s *Store) String() string {
	if s == nil {
		return "<nil>"
	}
	key := "nil (plaintext)"
	switch {
	case s.EncryptionKey == nil:
	case len(s.EncryptionKey) == envelope.KeySize:
		key = "[redacted AES-256 key]"
	default:
		key = "[redacted key of invalid size " + strconv.Itoa(len(s.EncryptionKey)) + "]"
	}
	return "filestore.Store{Path: " + strconv.Quote(s.Path) + ", EncryptionKey: " + key + "}"
}

// GoString is String, so that %#v does not print the key either.
func (s *Store) GoString() string { return s.String() }

// Format prints s as String does for every verb, so that no verb prints
// the key. (A Store printed by value is printed field by field; its
// EncryptionKey then redacts itself.)
func (s *Store) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON writes what String shows: a Store is not a storage format.
func (s *Store) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes log/slog print what String shows.
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }

// The file's format.
//
// Plaintext: the JSON of a storeFileV1, beginning with '{'.
//
// Encrypted: that JSON in the envelope of package internal/envelope: a
// header ("NAUTH", a version byte, a random nonce, the length of the
// rest), then the AES-256-GCM ciphertext, sealed with the header as
// additional data.
const jsonVersion = 1

// storeFileV1 is the JSON of a store file, format version 1. It copies
// every field of notionauth.Grant, rather than encoding the Grant as it
// is, so that changes to that type never change the file format silently;
// a Token is kept in EncodeToken's form, which has a version of its own.
type storeFileV1 struct {
	Version int                 `json:"version"` // jsonVersion
	Grants  map[string]*grantV1 `json:"grants"`
}

type grantV1 struct {
	Token         json.RawMessage `json:"token,omitempty"` // EncodeToken's form; absent or null: no token
	Revoked       time.Time       `json:"revoked,omitzero"`
	RevokedReason string          `json:"revoked_reason,omitempty"`
	Updated       time.Time       `json:"updated"`
	Version       int64           `json:"version"`
}

// encodeStore returns the file content for grants: encrypted with key, or
// plaintext when key is nil.
func encodeStore(grants map[string]*notionauth.Grant, key []byte) ([]byte, error) {
	f := storeFileV1{Version: jsonVersion, Grants: make(map[string]*grantV1, len(grants))}
	for k, g := range grants {
		e := &grantV1{
			Revoked:       g.Revoked,
			RevokedReason: g.RevokedReason,
			Updated:       g.Updated,
			Version:       g.Version,
		}
		if g.Token != nil {
			tok, err := notionauth.EncodeToken(g.Token)
			if err != nil {
				return nil, err
			}
			e.Token = tok
		}
		f.Grants[k] = e
	}
	if key == nil {
		data, err := json.MarshalIndent(f, "", "\t")
		if err != nil {
			return nil, err
		}
		return append(data, '\n'), nil
	}
	data, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return envelope.Seal(key, data)
}

// decodeStore reads file content written by encodeStore. Empty content is
// an empty store.
func decodeStore(data, key []byte) (map[string]*notionauth.Grant, error) {
	if len(data) == 0 {
		return map[string]*notionauth.Grant{}, nil
	}
	switch {
	case envelope.IsSealed(data):
		if key == nil {
			return nil, notionauth.ErrKeyRequired
		}
		plain, err := envelope.Open(key, data)
		if err != nil {
			return nil, envelopeError(err)
		}
		data = plain
	case envelope.IsTruncatedHeader(data):
		return nil, fmt.Errorf("%w: truncated header", notionauth.ErrCorrupt)
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")):
		if key != nil {
			return nil, notionauth.ErrNotEncrypted
		}
	default:
		return nil, fmt.Errorf("%w: not a store file", notionauth.ErrCorrupt)
	}

	// Every field name must be one of the format's: a name that a flipped
	// bit or a bad edit made unknown would otherwise be skipped, and a
	// grant (or all of them, under "grants") silently lost, then written
	// over by the next Update. DecodeToken is as strict about a token's.
	var f storeFileV1
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON", notionauth.ErrCorrupt)
	}
	switch {
	case f.Version == 0:
		return nil, fmt.Errorf("%w: no format version", notionauth.ErrCorrupt)
	case f.Version != jsonVersion:
		return nil, fmt.Errorf("%w: %d", notionauth.ErrUnsupportedFormat, f.Version)
	case f.Grants == nil: // missing or null: the store writes {} for none
		return nil, fmt.Errorf("%w: no grants", notionauth.ErrCorrupt)
	}
	grants := make(map[string]*notionauth.Grant, len(f.Grants))
	for k, g := range f.Grants {
		if k == "" || g == nil || g.Version < 1 {
			return nil, fmt.Errorf("%w: invalid grant entry", notionauth.ErrCorrupt)
		}
		var tok *notionauth.Token
		if len(g.Token) > 0 && string(g.Token) != "null" {
			var err error
			if tok, err = notionauth.DecodeToken(g.Token); err != nil {
				return nil, tokenError(err)
			}
		}
		grants[k] = &notionauth.Grant{
			Key:           k,
			Token:         tok,
			Revoked:       g.Revoked,
			RevokedReason: g.RevokedReason,
			Updated:       g.Updated,
			Version:       g.Version,
		}
	}
	return grants, nil
}

// tokenError is DecodeToken's error for a grant's token, as one of the
// store errors: ErrUnsupportedFormat for a newer token format, else
// ErrCorrupt.
func tokenError(err error) error {
	reason := "invalid"
	var de *notionauth.TokenDecodeError
	if errors.As(err, &de) {
		reason = de.Reason
	}
	if errors.Is(err, notionauth.ErrUnsupportedFormat) {
		return fmt.Errorf("%w: token: %s", notionauth.ErrUnsupportedFormat, reason)
	}
	return fmt.Errorf("%w: token: %s", notionauth.ErrCorrupt, reason)
}

// jsonError describes a JSON decoding error as ErrCorrupt without quoting
// any of the data, which may be a secret.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated JSON", notionauth.ErrCorrupt)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: invalid JSON at byte %d", notionauth.ErrCorrupt, syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("%w: JSON field %q has the wrong type", notionauth.ErrCorrupt, typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// DisallowUnknownFields' error has no type of its own. The name
		// is left out: it is the file's, and damage can make anything a
		// name.
		return fmt.Errorf("%w: unknown JSON field", notionauth.ErrCorrupt)
	default:
		return fmt.Errorf("%w: invalid JSON", notionauth.ErrCorrupt)
	}
}

// envelopeError is err from envelope.Open as one of the store's errors.
func envelopeError(err error) error {
	var e *envelope.Error
	if !errors.As(err, &e) {
		return err
	}
	var sentinel error
	switch e.Reason {
	case envelope.WrongKey:
		return notionauth.ErrWrongKey
	case envelope.Unsupported:
		sentinel = notionauth.ErrUnsupportedFormat
	default:
		sentinel = notionauth.ErrCorrupt
	}
	if e.Detail == "" {
		return sentinel
	}
	return fmt.Errorf("%w: %s", sentinel, e.Detail)
}
