package notiontest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"
)

// ObjectType is the kind of a Notion object held by the fake.
type ObjectType string

// The object types the fake serves.
const (
	Page       ObjectType = "page"
	Block      ObjectType = "block" // served as a paragraph block
	Database   ObjectType = "database"
	DataSource ObjectType = "data_source"
)

// Object describes a Notion object to add with [Server.Put]. IDs that are
// not UUIDs are kept as given, but the API cannot reach them: like Notion, it
// answers 400 validation_error for such ids.
type Object struct {
	ID     string     // a UUID, dashed or not; "": Put generates one
	Type   ObjectType // "": Page
	Parent string     // id of the parent object; "": the workspace
	Title  string     // page or database title; a block's text
}

// object is an Object as stored, ids dashed.
type object struct {
	Object
	seq       int64 // creation order
	created   time.Time
	edited    time.Time
	createdBy string // user id
	editedBy  string
	archived  bool // in the trash: still readable, not listed
	deleted   bool // gone: 404 for everyone
}

// maxDepth bounds walks up the parent chain, so a cycle cannot loop.
const maxDepth = 100

// Put adds o, or replaces the object with the same id, and returns its id,
// dashed. An empty ID gets a random UUID. A replaced object keeps its
// sharing and creation time, and is no longer deleted or archived.
func (s *Server) Put(o Object) string {
	if o.ID == "" {
		o.ID = newUUID()
	} else if id, ok := normalizeID(o.ID); ok {
		o.ID = id
	}
	if id, ok := normalizeID(o.Parent); ok {
		o.Parent = id
	}
	if o.Type == "" {
		o.Type = Page
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLocked(o, s.ownerID)
	return o.ID
}

func (s *Server) putLocked(o Object, by string) *object {
	now := s.now()
	obj := &object{Object: o, created: now, edited: now, createdBy: by, editedBy: by}
	if old := s.objects[o.ID]; old != nil {
		obj.seq, obj.created, obj.createdBy = old.seq, old.created, old.createdBy
	} else {
		s.seq++
		obj.seq = s.seq
	}
	s.objects[o.ID] = obj
	return obj
}

// Share makes the object with the given id, and so its descendants, visible
// to the bots of tokens. Sharing may come before the object is added with
// [Server.Put] or the token with [Server.AddToken].
func (s *Server) Share(id string, tokens ...string) {
	id = normalizeOr(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, token := range tokens {
		s.shareLocked(id, s.tokenLocked(token).bot.id)
	}
}

func (s *Server) shareLocked(id, botID string) {
	if s.shares[id] == nil {
		s.shares[id] = map[string]bool{}
	}
	s.shares[id][botID] = true
}

// Unshare undoes [Server.Share] for the bots of tokens. Objects still
// shared through an ancestor stay visible.
func (s *Server) Unshare(id string, tokens ...string) {
	id = normalizeOr(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, token := range tokens {
		delete(s.shares[id], s.tokenLocked(token).bot.id)
	}
}

// Delete removes the object with the given id, and so its descendants:
// from now on they answer 404 object_not_found to every token. [Server.Put]
// brings the object back.
func (s *Server) Delete(id string) {
	id = normalizeOr(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objects[id]; o != nil {
		o.deleted = true
	}
}

// normalizeOr returns id dashed when it is a UUID, else unchanged.
func normalizeOr(id string) string {
	if n, ok := normalizeID(id); ok {
		return n
	}
	return id
}

// visibleLocked reports whether the object is visible to the bot: it exists,
// neither it nor an ancestor is deleted, and it or an ancestor is shared with
// the bot.
func (s *Server) visibleLocked(id, botID string) bool {
	if s.objects[id] == nil {
		return false
	}
	shared := false
	for cur, depth := id, 0; cur != "" && depth < maxDepth; depth++ {
		if s.shares[cur][botID] {
			shared = true
		}
		o := s.objects[cur]
		if o == nil {
			break
		}
		if o.deleted {
			return false
		}
		cur = o.Parent
	}
	return shared
}

// findLocked returns the object rawID names, if it has one of the types and
// c's bot can see it. param names the id in validation errors ("page_id");
// kind names the object in not-found errors ("page").
func (s *Server) findLocked(c *call, rawID, param, kind string, types ...ObjectType) (*object, *apiError) {
	id, ok := normalizeID(rawID)
	if !ok {
		return nil, validationError(fmt.Sprintf("path failed validation: path.%s should be a valid uuid, instead was `%q`.", param, rawID))
	}
	o := s.objects[id]
	if o == nil || !slices.Contains(types, o.Type) || !s.visibleLocked(id, c.bot.id) {
		return nil, notFound(kind, id)
	}
	return o, nil
}

func notFound(kind, id string) *apiError {
	return &apiError{http.StatusNotFound, "object_not_found",
		fmt.Sprintf("Could not find %s with ID: %s. Make sure the relevant pages and databases are shared with your integration.", kind, id), nil}
}

func archivedError() *apiError {
	return validationError("Can't edit block that is archived. You must unarchive the block before editing.")
}

// listLocked returns the live (neither deleted nor archived) objects that
// keep reports true for, in creation order.
func (s *Server) listLocked(keep func(*object) bool) []*object {
	var out []*object
	for _, o := range s.objects {
		if !o.deleted && !o.archived && keep(o) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// childrenLocked returns the live objects whose parent is id.
func (s *Server) childrenLocked(id string, types ...ObjectType) []*object {
	return s.listLocked(func(o *object) bool {
		return o.Parent == id && slices.Contains(types, o.Type)
	})
}

func (s *Server) hasChildrenLocked(id string) bool {
	for _, o := range s.objects {
		if o.Parent == id && !o.deleted && !o.archived {
			return true
		}
	}
	return false
}
