package notionauth

import "sync"

// tableShards is how many parts a table is cut into, so that entries
// rarely wait for each other's lock.
const tableShards = 64

// minSweep is the smallest shard worth sweeping.
const minSweep = 64

// entry is what a table holds: it can tell when it is idle (no use for
// long enough, nothing in force), and is told when it is forgotten.
type entry interface {
	idle(now int64) bool
	forgotten()
}

// table is a sharded map whose idle entries are forgotten by a sweep of
// one shard at a time, run when that shard has doubled since its last
// sweep or was last swept more than an idle period ago: its cost per new
// entry is constant, however many entries there are, and it never scans
// anything on a lookup. It is safe for concurrent use.
type table[K comparable, V entry] struct {
	shards [tableShards]shard[K, V]
}

type shard[K comparable, V entry] struct {
	mu      sync.RWMutex // guards the fields below
	m       map[K]V
	sweepAt int   // sweep when len(m) reaches it
	swept   int64 // when it was last swept
	_       [64]byte
}

// insert returns the entry of k in shard h (k's hash), made by make if
// there is none yet. now is the time on the owner's clock; idleFor is how
// long an entry may go unused. Callers look up first: insert is the slow
// path.
func (t *table[K, V]) insert(h uint64, k K, now, idleFor int64, make func() V) V {
	s := &t.shards[h%tableShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		return v
	}
	if s.m == nil {
		s.m = map[K]V{}
		s.sweepAt, s.swept = minSweep, now
	} else if len(s.m) >= s.sweepAt || now-s.swept > idleFor {
		s.sweep(now)
	}
	v := make()
	s.m[k] = v
	return v
}

// lookup returns the entry of k, if any.
func (t *table[K, V]) lookup(h uint64, k K) (V, bool) {
	s := &t.shards[h%tableShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[k]
	return v, ok
}

// forget drops the entry of k, if any.
func (t *table[K, V]) forget(h uint64, k K) {
	s := &t.shards[h%tableShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		v.forgotten()
		delete(s.m, k)
	}
}

// sweep forgets the shard's idle entries. Caller holds mu.
func (s *shard[K, V]) sweep(now int64) {
	for k, v := range s.m {
		if v.idle(now) {
			v.forgotten()
			delete(s.m, k)
		}
	}
	s.sweepAt = max(2*len(s.m), minSweep)
	s.swept = now
}

// len is the number of entries held.
func (t *table[K, V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
