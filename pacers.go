package notionauth

// pacerTable holds the pace of every token (and workspace) a Transport is
// using, by keyed hash. Paces idle for idleWindows windows are forgotten;
// see table.
type pacerTable struct {
	cfg *paceConfig
	t   table[uint64, *pacer]
}

// get returns the pacer of the hash key, made on first use.
func (pt *pacerTable) get(key uint64) *pacer {
	if p, ok := pt.t.lookup(key, key); ok {
		return p
	}
	return pt.t.insert(key, key, pt.cfg.now(), idleWindows*pt.cfg.window, func() *pacer { return newPacer(pt.cfg) })
}

// lookup returns the pacer of key, or nil when there is none.
func (pt *pacerTable) lookup(key uint64) *pacer {
	p, _ := pt.t.lookup(key, key)
	return p
}

// forget drops the pacer of key, if any: its token is known to be revoked
// and will never be sent again.
func (pt *pacerTable) forget(key uint64) { pt.t.forget(key, key) }

// len is the number of pacers held.
func (pt *pacerTable) len() int { return pt.t.len() }

// forgotten marks p forgotten by its table: a bearer that still holds it
// looks it up again.
func (p *pacer) forgotten() { p.dead.Store(true) }
