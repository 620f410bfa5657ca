package notiontest

import (
	"strings"
	"time"
)

// The JSON shapes below follow Notion-Version 2022-06-28, plus the fields of
// later versions (in_trash, data sources) that older clients ignore.

// objectJSONLocked renders o as the API returns it from its own endpoint.
func (s *Server) objectJSONLocked(o *object) map[string]any {
	switch o.Type {
	case Database:
		return s.databaseJSONLocked(o)
	case DataSource:
		return s.dataSourceJSONLocked(o)
	case Block:
		return s.blockJSONLocked(o)
	default:
		return s.pageJSONLocked(o)
	}
}

// commonJSONLocked holds the fields every object has.
func (s *Server) commonJSONLocked(o *object, objectName string) map[string]any {
	return map[string]any{
		"object":           objectName,
		"id":               o.ID,
		"created_time":     timestamp(o.created),
		"last_edited_time": timestamp(o.edited),
		"created_by":       userRef(o.createdBy),
		"last_edited_by":   userRef(o.editedBy),
		"parent":           s.parentJSONLocked(o.Parent),
		"archived":         o.archived,
		"in_trash":         o.archived,
	}
}

func (s *Server) pageJSONLocked(o *object) map[string]any {
	m := s.commonJSONLocked(o, "page")
	m["icon"] = nil
	m["cover"] = nil
	m["url"] = notionURL(o.ID)
	m["public_url"] = nil
	m["properties"] = map[string]any{
		s.titleKeyLocked(o): map[string]any{"id": "title", "type": "title", "title": richText(o.Title)},
	}
	return m
}

// titleKeyLocked is the name of a page's title property: "title" for pages
// in pages or the workspace, "Name" (the default column) in databases.
func (s *Server) titleKeyLocked(o *object) string {
	if p := s.objects[o.Parent]; p != nil && (p.Type == Database || p.Type == DataSource) {
		return "Name"
	}
	return "title"
}

// blockJSONLocked renders o as a block: pages as child_page, databases as
// child_database, anything else as a paragraph.
func (s *Server) blockJSONLocked(o *object) map[string]any {
	m := s.commonJSONLocked(o, "block")
	m["has_children"] = s.hasChildrenLocked(o.ID)
	switch o.Type {
	case Page:
		m["type"] = "child_page"
		m["child_page"] = map[string]any{"title": o.Title}
	case Database:
		m["type"] = "child_database"
		m["child_database"] = map[string]any{"title": o.Title}
	default:
		m["type"] = "paragraph"
		m["paragraph"] = map[string]any{"rich_text": richText(o.Title), "color": "default"}
	}
	return m
}

func (s *Server) databaseJSONLocked(o *object) map[string]any {
	m := s.commonJSONLocked(o, "database")
	m["title"] = richText(o.Title)
	m["description"] = []any{}
	m["icon"] = nil
	m["cover"] = nil
	m["url"] = notionURL(o.ID)
	m["public_url"] = nil
	m["is_inline"] = false
	m["properties"] = titleSchema()
	sources := []any{}
	for _, ds := range s.childrenLocked(o.ID, DataSource) {
		sources = append(sources, map[string]any{"id": ds.ID, "name": ds.Title})
	}
	m["data_sources"] = sources
	return m
}

func (s *Server) dataSourceJSONLocked(o *object) map[string]any {
	m := s.commonJSONLocked(o, "data_source")
	m["title"] = richText(o.Title)
	m["description"] = []any{}
	m["icon"] = nil
	m["cover"] = nil
	m["url"] = notionURL(o.ID)
	m["public_url"] = nil
	m["properties"] = titleSchema()
	if db := s.objects[o.Parent]; db != nil {
		m["database_parent"] = s.parentJSONLocked(db.Parent)
	}
	return m
}

// titleSchema is the property schema of every database: one title column.
func titleSchema() map[string]any {
	return map[string]any{
		"Name": map[string]any{"id": "title", "name": "Name", "type": "title", "title": map[string]any{}},
	}
}

// parentJSONLocked renders a parent reference by the parent's type.
func (s *Server) parentJSONLocked(id string) map[string]any {
	if id == "" {
		return map[string]any{"type": "workspace", "workspace": true}
	}
	p := s.objects[id]
	if p == nil {
		return map[string]any{"type": "page_id", "page_id": id}
	}
	switch p.Type {
	case Database:
		return map[string]any{"type": "database_id", "database_id": id}
	case DataSource:
		return map[string]any{"type": "data_source_id", "data_source_id": id, "database_id": p.Parent}
	case Block:
		return map[string]any{"type": "block_id", "block_id": id}
	default:
		return map[string]any{"type": "page_id", "page_id": id}
	}
}

// list renders a page of results.
func list(results []any, next *string, resultType string) map[string]any {
	if results == nil {
		results = []any{}
	}
	m := map[string]any{
		"object":      "list",
		"results":     results,
		"next_cursor": nil,
		"has_more":    next != nil,
		"type":        resultType,
		resultType:    map[string]any{},
	}
	if next != nil {
		m["next_cursor"] = *next
	}
	return m
}

func richText(text string) []any {
	if text == "" {
		return []any{}
	}
	return []any{map[string]any{
		"type": "text",
		"text": map[string]any{"content": text, "link": nil},
		"annotations": map[string]any{
			"bold": false, "italic": false, "strikethrough": false,
			"underline": false, "code": false, "color": "default",
		},
		"plain_text": text,
		"href":       nil,
	}}
}

// richTextIn is the part of an incoming rich-text element the fake reads.
type richTextIn struct {
	PlainText string `json:"plain_text"`
	Text      *struct {
		Content string `json:"content"`
	} `json:"text"`
}

func joinText(rts []richTextIn) string {
	var b strings.Builder
	for _, rt := range rts {
		switch {
		case rt.Text != nil:
			b.WriteString(rt.Text.Content)
		default:
			b.WriteString(rt.PlainText)
		}
	}
	return b.String()
}

func userRef(id string) map[string]any {
	return map[string]any{"object": "user", "id": id}
}

func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func notionURL(id string) string {
	return "https://www.notion.so/" + strings.ReplaceAll(id, "-", "")
}
