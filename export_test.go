package notionauth

// PutGrant writes g into s as it is, Version included, bypassing Update:
// storetest's Suite.Put, for the tests of package notionauth_test.
func PutGrant(s *MemoryStore, g *Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grants == nil {
		s.grants = make(map[string]*Grant)
	}
	s.grants[g.Key] = g.Clone()
}
