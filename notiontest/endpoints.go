package notiontest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// handler answers one endpoint: a JSON body for a 200, or an error. args
// holds the path segments matched by "{}".
type handler func(s *Server, c *call, args []string) (any, *apiError)

type route struct {
	method  string
	pattern string // "/"-separated; "{}" matches one non-empty segment
	handle  handler
}

var routes = []route{
	{http.MethodGet, "/v1/users/me", (*Server).getMe},
	{http.MethodPost, "/v1/pages", (*Server).createPage},
	{http.MethodGet, "/v1/pages/{}", (*Server).getPage},
	{http.MethodPatch, "/v1/pages/{}", (*Server).updatePage},
	{http.MethodGet, "/v1/pages/{}/properties/{}", (*Server).getPageProperty},
	{http.MethodGet, "/v1/blocks/{}", (*Server).getBlock},
	{http.MethodPatch, "/v1/blocks/{}", (*Server).updateBlock},
	{http.MethodDelete, "/v1/blocks/{}", (*Server).deleteBlock},
	{http.MethodGet, "/v1/blocks/{}/children", (*Server).listChildren},
	{http.MethodPatch, "/v1/blocks/{}/children", (*Server).appendChildren},
	{http.MethodGet, "/v1/databases/{}", (*Server).getDatabase},
	{http.MethodPost, "/v1/databases/{}/query", (*Server).queryDatabase},
	{http.MethodGet, "/v1/data_sources/{}", (*Server).getDataSource},
	{http.MethodPost, "/v1/data_sources/{}/query", (*Server).queryDataSource},
	{http.MethodPost, "/v1/search", (*Server).search},
	{http.MethodGet, "/v1/comments", (*Server).listComments},
}

// route answers c with the endpoint its method and path name. Like Notion,
// it answers 400 invalid_request_url both for unknown paths and for known
// paths with the wrong method.
func (s *Server) route(c *call) {
	for _, rt := range routes {
		if rt.method != c.r.Method {
			continue
		}
		if args, ok := matchPattern(rt.pattern, c.r.URL.Path); ok {
			body, e := rt.handle(s, c, args)
			if e != nil {
				c.fail(e, nil)
				return
			}
			c.send(http.StatusOK, body, nil)
			return
		}
	}
	c.fail(invalidRequestURL(), nil)
}

func matchPattern(pattern, path string) ([]string, bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	var args []string
	for i, p := range ps {
		switch {
		case p == "{}" && xs[i] != "":
			args = append(args, xs[i])
		case p != xs[i]:
			return nil, false
		}
	}
	return args, true
}

// Pages

func (s *Server) getPage(c *call, args []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "page_id", "page", Page)
	if e != nil {
		return nil, e
	}
	return s.pageJSONLocked(o), nil
}

// titleProperties reads the title out of a page's properties: the first
// property with a "title" array.
type titleProperties map[string]struct {
	Title []richTextIn `json:"title"`
}

func (p titleProperties) title() (string, bool) {
	for _, prop := range p {
		if prop.Title != nil {
			return joinText(prop.Title), true
		}
	}
	return "", false
}

func (s *Server) createPage(c *call, _ []string) (any, *apiError) {
	var req struct {
		Parent struct {
			PageID       string `json:"page_id"`
			DatabaseID   string `json:"database_id"`
			DataSourceID string `json:"data_source_id"`
			Workspace    bool   `json:"workspace"`
		} `json:"parent"`
		Properties titleProperties   `json:"properties"`
		Children   []json.RawMessage `json:"children"`
	}
	if e := c.decodeBody(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	parentID := ""
	var parent *object
	var e *apiError
	switch p := req.Parent; {
	case p.PageID != "":
		parent, e = s.findLocked(c, p.PageID, "page_id", "page", Page)
	case p.DatabaseID != "":
		parent, e = s.findLocked(c, p.DatabaseID, "database_id", "database", Database)
	case p.DataSourceID != "":
		parent, e = s.findLocked(c, p.DataSourceID, "data_source_id", "data_source", DataSource)
	case p.Workspace:
	default:
		return nil, validationError("body failed validation: body.parent should be defined, instead was `undefined`.")
	}
	if e != nil {
		return nil, e
	}
	if parent != nil {
		if parent.archived {
			return nil, archivedError()
		}
		parentID = parent.ID
	}
	title, _ := req.Properties.title()
	o := s.putLocked(Object{ID: newUUID(), Type: Page, Parent: parentID, Title: title}, c.bot.id)
	if parentID == "" {
		// A workspace-level page belongs to the connection that made it.
		s.shareLocked(o.ID, c.bot.id)
	}
	s.appendBlocksLocked(c, o.ID, req.Children)
	return s.pageJSONLocked(o), nil
}

func (s *Server) updatePage(c *call, args []string) (any, *apiError) {
	var req struct {
		Properties titleProperties `json:"properties"`
		Archived   *bool           `json:"archived"`
		InTrash    *bool           `json:"in_trash"`
	}
	if e := c.decodeBody(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "page_id", "page", Page)
	if e != nil {
		return nil, e
	}
	if e := s.editLocked(c, o, req.Archived, req.InTrash); e != nil {
		return nil, e
	}
	if title, ok := req.Properties.title(); ok {
		o.Title = title
	}
	return s.pageJSONLocked(o), nil
}

// editLocked applies archived/in_trash and marks o edited by c's bot. An
// archived object can only be unarchived.
func (s *Server) editLocked(c *call, o *object, flags ...*bool) *apiError {
	archived := o.archived
	for _, f := range flags {
		if f != nil {
			archived = *f
		}
	}
	if o.archived && archived {
		return archivedError()
	}
	o.archived = archived
	o.edited = s.now()
	o.editedBy = c.bot.id
	return nil
}

func (s *Server) getPageProperty(c *call, args []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "page_id", "page", Page)
	if e != nil {
		return nil, e
	}
	if args[1] != "title" {
		return nil, &apiError{http.StatusNotFound, "object_not_found",
			fmt.Sprintf("Could not find property with ID: %s.", args[1]), nil}
	}
	var items []any
	for _, rt := range richText(o.Title) {
		items = append(items, map[string]any{"object": "property_item", "id": "title", "type": "title", "title": rt})
	}
	m := list(items, nil, "property_item")
	m["property_item"] = map[string]any{"id": "title", "next_url": nil, "type": "title", "title": map[string]any{}}
	return m, nil
}

// Blocks

// blockTypes are the objects the block endpoints accept: pages and
// databases are blocks too.
var blockTypes = []ObjectType{Block, Page, Database}

func (s *Server) getBlock(c *call, args []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "block_id", "block", blockTypes...)
	if e != nil {
		return nil, e
	}
	return s.blockJSONLocked(o), nil
}

func (s *Server) updateBlock(c *call, args []string) (any, *apiError) {
	var req map[string]json.RawMessage
	if e := c.decodeBody(&req); e != nil {
		return nil, e
	}
	var archived, inTrash *bool
	text, hasText := "", false
	for key, raw := range req {
		switch key {
		case "archived":
			_ = json.Unmarshal(raw, &archived)
		case "in_trash":
			_ = json.Unmarshal(raw, &inTrash)
		default: // type-specific content: {"paragraph": {"rich_text": [...]}}
			var content struct {
				RichText []richTextIn `json:"rich_text"`
				Title    *string      `json:"title"`
			}
			if json.Unmarshal(raw, &content) != nil {
				continue
			}
			if content.RichText != nil {
				text, hasText = joinText(content.RichText), true
			}
			if content.Title != nil {
				text, hasText = *content.Title, true
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "block_id", "block", blockTypes...)
	if e != nil {
		return nil, e
	}
	if e := s.editLocked(c, o, archived, inTrash); e != nil {
		return nil, e
	}
	if hasText {
		o.Title = text
	}
	return s.blockJSONLocked(o), nil
}

// deleteBlock moves a block (or page, or database) to the trash, as
// DELETE /v1/blocks/{id} does: it stays readable, with archived true.
func (s *Server) deleteBlock(c *call, args []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "block_id", "block", blockTypes...)
	if e != nil {
		return nil, e
	}
	archived := true
	if e := s.editLocked(c, o, &archived); e != nil {
		return nil, e
	}
	return s.blockJSONLocked(o), nil
}

func (s *Server) listChildren(c *call, args []string) (any, *apiError) {
	cursor, size, e := queryPagination(c)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "block_id", "block", Block, Page)
	if e != nil {
		return nil, e
	}
	return s.pageLocked(s.childrenLocked(o.ID, blockTypes...), cursor, size, "block", s.blockJSONLocked)
}

func (s *Server) appendChildren(c *call, args []string) (any, *apiError) {
	var req struct {
		Children []json.RawMessage `json:"children"`
	}
	if e := c.decodeBody(&req); e != nil {
		return nil, e
	}
	if req.Children == nil {
		return nil, validationError("body failed validation: body.children should be defined, instead was `undefined`.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "block_id", "block", Block, Page)
	if e != nil {
		return nil, e
	}
	if o.archived {
		return nil, archivedError()
	}
	var results []any
	for _, b := range s.appendBlocksLocked(c, o.ID, req.Children) {
		results = append(results, s.blockJSONLocked(b))
	}
	return list(results, nil, "block"), nil
}

// appendBlocksLocked adds each child as a Block under parentID, its text
// taken from the rich_text of its content, whatever its type.
func (s *Server) appendBlocksLocked(c *call, parentID string, children []json.RawMessage) []*object {
	var added []*object
	for _, raw := range children {
		var child map[string]json.RawMessage
		_ = json.Unmarshal(raw, &child)
		var typ string
		_ = json.Unmarshal(child["type"], &typ)
		var content struct {
			RichText []richTextIn `json:"rich_text"`
		}
		_ = json.Unmarshal(child[typ], &content)
		o := Object{ID: newUUID(), Type: Block, Parent: parentID, Title: joinText(content.RichText)}
		added = append(added, s.putLocked(o, c.bot.id))
	}
	return added
}

// Databases and data sources

func (s *Server) getDatabase(c *call, args []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "database_id", "database", Database)
	if e != nil {
		return nil, e
	}
	return s.databaseJSONLocked(o), nil
}

// queryDatabase lists the pages of a database, including those of its data
// sources.
func (s *Server) queryDatabase(c *call, args []string) (any, *apiError) {
	cursor, size, e := bodyPagination(c)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	db, e := s.findLocked(c, args[0], "database_id", "database", Database)
	if e != nil {
		return nil, e
	}
	parents := []string{db.ID}
	for _, ds := range s.childrenLocked(db.ID, DataSource) {
		parents = append(parents, ds.ID)
	}
	pages := s.listLocked(func(o *object) bool { return o.Type == Page && slices.Contains(parents, o.Parent) })
	return s.pageLocked(pages, cursor, size, "page_or_database", s.pageJSONLocked)
}

func (s *Server) getDataSource(c *call, args []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.findLocked(c, args[0], "data_source_id", "data_source", DataSource)
	if e != nil {
		return nil, e
	}
	return s.dataSourceJSONLocked(o), nil
}

func (s *Server) queryDataSource(c *call, args []string) (any, *apiError) {
	cursor, size, e := bodyPagination(c)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, e := s.findLocked(c, args[0], "data_source_id", "data_source", DataSource)
	if e != nil {
		return nil, e
	}
	return s.pageLocked(s.childrenLocked(ds.ID, Page), cursor, size, "page_or_database", s.pageJSONLocked)
}

// Search and comments

// search lists the visible pages and databases whose title contains query,
// ignoring case. A filter {"property":"object","value":"page"} (or
// "database", or "data_source") narrows the types.
func (s *Server) search(c *call, _ []string) (any, *apiError) {
	var req struct {
		Query  string `json:"query"`
		Filter *struct {
			Value string `json:"value"`
		} `json:"filter"`
		StartCursor string `json:"start_cursor"`
		PageSize    int    `json:"page_size"`
	}
	if e := c.decodeBody(&req); e != nil {
		return nil, e
	}
	types := []ObjectType{Page, Database}
	if req.Filter != nil && req.Filter.Value != "" {
		types = []ObjectType{ObjectType(req.Filter.Value)}
	}
	query := strings.ToLower(req.Query)
	s.mu.Lock()
	defer s.mu.Unlock()
	found := s.listLocked(func(o *object) bool {
		return slices.Contains(types, o.Type) &&
			strings.Contains(strings.ToLower(o.Title), query) &&
			s.visibleLocked(o.ID, c.bot.id)
	})
	return s.pageLocked(found, req.StartCursor, req.PageSize, "page_or_database", s.objectJSONLocked)
}

// listComments answers GET /v1/comments?block_id=: the fake holds no
// comments, so a visible block or page gets an empty list.
func (s *Server) listComments(c *call, _ []string) (any, *apiError) {
	cursor, size, e := queryPagination(c)
	if e != nil {
		return nil, e
	}
	blockID := c.r.URL.Query().Get("block_id")
	if blockID == "" {
		return nil, validationError("query failed validation: query.block_id should be defined, instead was `undefined`.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.findLocked(c, blockID, "block_id", "block", blockTypes...); e != nil {
		return nil, e
	}
	return s.pageLocked(nil, cursor, size, "comment", nil)
}

// Pagination

const maxPageSize = 100

func queryPagination(c *call) (cursor string, size int, e *apiError) {
	q := c.r.URL.Query()
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", 0, validationError("query failed validation: query.page_size should be a number, instead was `\"" + v + "\"`.")
		}
		size = n
	}
	return q.Get("start_cursor"), size, nil
}

func bodyPagination(c *call) (cursor string, size int, e *apiError) {
	var req struct {
		StartCursor string `json:"start_cursor"`
		PageSize    int    `json:"page_size"`
	}
	if e := c.decodeBody(&req); e != nil {
		return "", 0, e
	}
	return req.StartCursor, req.PageSize, nil
}

// pageLocked renders the page of items that starts at cursor (the id of
// its first item; "" for the first page) and holds at most size items
// (0: 100).
func (s *Server) pageLocked(items []*object, cursor string, size int, resultType string, render func(*object) map[string]any) (any, *apiError) {
	if size == 0 {
		size = maxPageSize
	}
	if size < 1 || size > maxPageSize {
		return nil, validationError(fmt.Sprintf("body failed validation: body.page_size should be ≤ %d and ≥ 1, instead was `%d`.", maxPageSize, size))
	}
	start := 0
	if cursor != "" {
		id, _ := normalizeID(cursor)
		start = slices.IndexFunc(items, func(o *object) bool { return o.ID == id })
		if start < 0 {
			return nil, validationError("start_cursor provided is invalid: " + cursor)
		}
	}
	end := min(start+size, len(items))
	var next *string
	if end < len(items) {
		next = &items[end].ID
	}
	results := []any{}
	for _, o := range items[start:end] {
		results = append(results, render(o))
	}
	return list(results, next, resultType), nil
}
