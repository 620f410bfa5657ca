package notionauth

import "sync"

// pacerShards is how many parts the pacer table is cut into, so that
// tokens rarely wait for each other's lock.
const pacerShards = 64

// pacerTable holds the pace of every token a Transport is using, by keyed
// hash. Lookups of different tokens mostly take different locks; pacers
// idle for idleWindows windows are forgotten by a sweep of one shard at a
// time, which runs when that shard has doubled since its last sweep or
// was last swept idleWindows windows ago, so its cost per new token is
// constant, whatever the number of tokens.
type pacerTable struct {
	cfg    *paceConfig
	shards [pacerShards]pacerShard
}

type pacerShard struct {
	mu      sync.RWMutex // guards the fields below
	m       map[uint64]*pacer
	sweepAt int   // sweep when len(m) reaches it
	swept   int64 // when it was last swept
	_       [64]byte
}

// minSweep is the smallest shard worth sweeping.
const minSweep = 64

// get returns the pacer of the token with hash key, made on first use.
func (t *pacerTable) get(key uint64) *pacer {
	s := &t.shards[key%pacerShards]
	s.mu.RLock()
	p := s.m[key]
	s.mu.RUnlock()
	if p != nil {
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p = s.m[key]; p != nil {
		return p
	}
	now := t.cfg.now()
	if s.m == nil {
		s.m = make(map[uint64]*pacer)
		s.sweepAt, s.swept = minSweep, now
	} else if len(s.m) >= s.sweepAt || now-s.swept > idleWindows*t.cfg.window {
		s.sweep(now)
	}
	p = newPacer(t.cfg)
	s.m[key] = p
	return p
}

// lookup returns the pacer of key, or nil when there is none.
func (t *pacerTable) lookup(key uint64) *pacer {
	s := &t.shards[key%pacerShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[key]
}

// forget drops the pacer of key, if any: its token is known to be revoked
// and will never be sent again.
func (t *pacerTable) forget(key uint64) {
	s := &t.shards[key%pacerShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.m[key]; p != nil {
		p.dead.Store(true)
		delete(s.m, key)
	}
}

// sweep forgets the shard's idle pacers. Caller holds mu.
func (s *pacerShard) sweep(now int64) {
	for k, p := range s.m {
		if p.idle(now) {
			p.dead.Store(true)
			delete(s.m, k)
		}
	}
	s.sweepAt = max(2*len(s.m), minSweep)
	s.swept = now
}

// len is the number of pacers held.
func (t *pacerTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
