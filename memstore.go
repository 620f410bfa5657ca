package notionauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/notionauth/notionauth/internal/page"
)

// MemoryStore is a [Store] that keeps grants in memory, for tests and for
// apps that run as a single process and can afford to lose their grants
// on restart. Updates of one key are serialised; Updates of different
// keys run concurrently.
//
// The zero value is an empty store ready to use. A MemoryStore is safe for
// concurrent use and must not be copied after first use.
type MemoryStore struct {
	mu     sync.Mutex // guards grants and locks
	grants map[string]*Grant
	locks  map[string]*keyLock // the keys with an Update running or waiting
}

var _ Store = (*MemoryStore)(nil)

// String describes s by the number of grants it holds, never a grant:
// printing a MemoryStore by reflection would print every token.
func (s *MemoryStore) String() string {
	if s == nil {
		return "<nil>"
	}
	s.mu.Lock()
	n := len(s.grants)
	s.mu.Unlock()
	return "notionauth.MemoryStore{" + strconv.Itoa(n) + " grants}"
}

// GoString is String, so that %#v is as safe.
func (s *MemoryStore) GoString() string { return s.String() }

// Format prints s as String does for every verb.
func (s *MemoryStore) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes String: a MemoryStore is not a storage format.
func (s *MemoryStore) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes log/slog print String.
func (s *MemoryStore) LogValue() slog.Value { return slog.StringValue(s.String()) }

// keyLock serialises the Updates of one key. It is a channel, not a
// sync.Mutex, so that waiting for it honours a context.
type keyLock struct {
	held chan struct{} // holds one value while the lock is held
	refs int           // holders and waiters; guarded by MemoryStore.mu
}

// Get returns a copy of the grant kept for key, or ErrGrantNotFound.
func (s *MemoryStore) Get(ctx context.Context, key string) (*Grant, error) {
	if err := CheckKey(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[key]
	if !ok {
		return nil, ErrGrantNotFound
	}
	return g.Clone(), nil
}

// Update implements [Store.Update].
func (s *MemoryStore) Update(ctx context.Context, key string, fn func(*Grant) (*Grant, error)) (*Grant, error) {
	if err := CheckKey(ctx, key); err != nil {
		return nil, err
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()

	s.mu.Lock()
	old := s.grants[key]
	s.mu.Unlock()

	// Only Updates and Deletes, which hold the key's lock, change the
	// key's grant, so old is still current when fn returns.
	n, err := ApplyUpdate(key, old, fn, time.Now())
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if n == nil {
		delete(s.grants, key)
		return nil, nil
	}
	if s.grants == nil {
		s.grants = make(map[string]*Grant)
	}
	s.grants[key] = n
	return n.Clone(), nil
}

// Delete removes the grant kept for key, waiting for any Update of key
// that is running. Deleting an absent key is not an error.
func (s *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := CheckKey(ctx, key); err != nil {
		return err
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grants, key)
	return nil
}

// List implements [Store.List]. It does not wait for Updates: a grant
// being updated is listed as it was before.
func (s *MemoryStore) List(ctx context.Context, after string, limit int) ([]*Grant, error) {
	limit, err := CheckList(ctx, limit)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := page.Keys(s.grants, after, limit)
	grants := make([]*Grant, len(keys))
	for i, k := range keys {
		grants[i] = s.grants[k].Clone()
	}
	return grants, nil
}

// lock takes key's lock, or returns ctx's error if ctx is done first.
func (s *MemoryStore) lock(ctx context.Context, key string) (unlock func(), err error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = make(map[string]*keyLock)
	}
	l := s.locks[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		s.locks[key] = l
	}
	l.refs++
	s.mu.Unlock()

	release := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, key)
		}
	}
	select {
	case l.held <- struct{}{}:
		if err := ctx.Err(); err != nil { // select picks at random when both are ready
			<-l.held
			release()
			return nil, err
		}
		return func() { <-l.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
