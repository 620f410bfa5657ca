package storetest_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/notionauth/notionauth"
)

// mapStore is about the smallest Store that passes the suite: grants in a
// map, Updates serialised by one lock for all keys. A real store keeps
// its grants in a database and its lock there too (a row lock, a
// transaction), but makes the same calls: CheckKey and CheckList first,
// ApplyUpdate under the lock, Clone for every grant it hands out.
type mapStore struct {
	lock chan struct{} // held by Update and Delete; a channel, so that waiting honours ctx

	mu     sync.Mutex // guards grants
	grants map[string]*notionauth.Grant
}

func newMapStore() *mapStore {
	return &mapStore{lock: make(chan struct{}, 1), grants: make(map[string]*notionauth.Grant)}
}

func (s *mapStore) Get(ctx context.Context, key string) (*notionauth.Grant, error) {
	if err := notionauth.CheckKey(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[key]
	if !ok {
		return nil, notionauth.ErrGrantNotFound
	}
	return g.Clone(), nil
}

func (s *mapStore) Update(ctx context.Context, key string, fn func(*notionauth.Grant) (*notionauth.Grant, error)) (*notionauth.Grant, error) {
	if err := notionauth.CheckKey(ctx, key); err != nil {
		return nil, err
	}
	unlock, err := s.take(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.mu.Lock()
	old := s.grants[key]
	s.mu.Unlock()
	next, err := notionauth.ApplyUpdate(key, old, fn, time.Now())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if next == nil {
		delete(s.grants, key)
		return nil, nil
	}
	s.grants[key] = next
	return next.Clone(), nil
}

func (s *mapStore) Delete(ctx context.Context, key string) error {
	if err := notionauth.CheckKey(ctx, key); err != nil {
		return err
	}
	unlock, err := s.take(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grants, key)
	return nil
}

func (s *mapStore) List(ctx context.Context, after string, limit int) ([]*notionauth.Grant, error) {
	limit, err := notionauth.CheckList(ctx, limit)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var page []*notionauth.Grant
	for _, k := range slices.Sorted(maps.Keys(s.grants)) {
		if k > after && len(page) < limit {
			page = append(page, s.grants[k].Clone())
		}
	}
	return page, nil
}

// take takes the store's lock, or returns ctx's error if ctx is done
// first.
func (s *mapStore) take(ctx context.Context) (unlock func(), err error) {
	select {
	case s.lock <- struct{}{}:
		if err := ctx.Err(); err != nil { // select picks at random when both are ready
			<-s.lock
			return nil, err
		}
		return func() { <-s.lock }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Format prints the store by its size, never its grants.
func (s *mapStore) Format(f fmt.State, verb rune) {
	s.mu.Lock()
	n := len(s.grants)
	s.mu.Unlock()
	_, _ = io.WriteString(f, fmt.Sprintf("mapStore{%d grants}", n))
}

// Run the suite on a Store of your own from one of your tests, with a
// function that returns a new, empty store for each subtest:
//
//	func TestMapStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) notionauth.Store { return newMapStore() })
//	}
//
// (mapStore is this file's.) A store that needs a server or a database
// sets up a fresh keyspace in that function and removes it with
// t.Cleanup.
func Example() {
	var s notionauth.Store = newMapStore()
	fmt.Println(s)
	// Output: mapStore{0 grants}
}
