package notiontest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jomei/notionapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/notionauth/notionauth/notiontest"
)

// workspace is a small tree shared with one token:
//
//	root (page) ─┬─ child (page) ── para (block)
//	             ├─ note (block)
//	             └─ db (database) ─┬─ row (page)
//	                               └─ ds (data source) ── dsRow (page)
type workspace struct {
	root, child, para, note, db, row, ds, dsRow string
}

func seed(s *notiontest.Server, token string) workspace {
	var w workspace
	w.root = s.Put(notiontest.Object{Type: notiontest.Page, Title: "Root"})
	w.child = s.Put(notiontest.Object{Type: notiontest.Page, Parent: w.root, Title: "Child"})
	w.para = s.Put(notiontest.Object{Type: notiontest.Block, Parent: w.child, Title: "hello"})
	w.note = s.Put(notiontest.Object{Type: notiontest.Block, Parent: w.root, Title: "note"})
	w.db = s.Put(notiontest.Object{Type: notiontest.Database, Parent: w.root, Title: "Tasks"})
	w.row = s.Put(notiontest.Object{Type: notiontest.Page, Parent: w.db, Title: "Row"})
	w.ds = s.Put(notiontest.Object{Type: notiontest.DataSource, Parent: w.db, Title: "Tasks source"})
	w.dsRow = s.Put(notiontest.Object{Type: notiontest.Page, Parent: w.ds, Title: "Source row"})
	s.Share(w.root, token)
	return w
}

func pageTitle(t *testing.T, p *notionapi.Page) string {
	t.Helper()
	for _, prop := range p.Properties {
		if tp, ok := prop.(*notionapi.TitleProperty); ok {
			var b strings.Builder
			for _, rt := range tp.Title {
				b.WriteString(rt.PlainText)
			}
			return b.String()
		}
	}
	t.Fatalf("page %s has no title property", p.ID)
	return ""
}

func TestEndpointsDecodeIntoNotionapi(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	w := seed(s, token)
	client := newClient(s, token)
	ctx := context.Background()

	t.Run("users/me", func(t *testing.T) {
		me, err := client.User.Me(ctx)
		require.NoError(t, err)
		assert.Equal(t, notionapi.UserID(s.BotID(token)), me.ID)
		assert.Equal(t, notionapi.UserType("bot"), me.Type)
		require.NotNil(t, me.Bot)
		assert.Equal(t, "workspace", me.Bot.Owner.Type)
		assert.True(t, me.Bot.Owner.Workspace)
		assert.NotEmpty(t, me.Bot.WorkspaceName)
	})
	t.Run("get page", func(t *testing.T) {
		p, err := client.Page.Get(ctx, notionapi.PageID(w.child))
		require.NoError(t, err)
		assert.Equal(t, notionapi.ObjectID(w.child), p.ID)
		assert.Equal(t, "Child", pageTitle(t, p))
		assert.Equal(t, notionapi.ParentTypePageID, p.Parent.Type)
		assert.Equal(t, notionapi.PageID(w.root), p.Parent.PageID)
		assert.False(t, p.CreatedTime.IsZero())
	})
	t.Run("workspace page parent", func(t *testing.T) {
		p, err := client.Page.Get(ctx, notionapi.PageID(w.root))
		require.NoError(t, err)
		assert.Equal(t, notionapi.ParentTypeWorkspace, p.Parent.Type)
		assert.True(t, p.Parent.Workspace)
	})
	t.Run("create page under a page", func(t *testing.T) {
		p, err := client.Page.Create(ctx, &notionapi.PageCreateRequest{
			Parent: notionapi.Parent{Type: notionapi.ParentTypePageID, PageID: notionapi.PageID(w.root)},
			Properties: notionapi.Properties{"title": notionapi.TitleProperty{
				Title: []notionapi.RichText{{Text: &notionapi.Text{Content: "Made by API"}}},
			}},
			Children: []notionapi.Block{paragraph("first line")},
		})
		require.NoError(t, err)
		assert.Equal(t, "Made by API", pageTitle(t, p))
		assert.Equal(t, notionapi.PageID(w.root), p.Parent.PageID)
		assert.Equal(t, s.BotID(token), string(p.CreatedBy.ID))

		kids, err := client.Block.GetChildren(ctx, notionapi.BlockID(p.ID), nil)
		require.NoError(t, err)
		require.Len(t, kids.Results, 1)
		assert.Equal(t, "first line", kids.Results[0].GetRichTextString())
	})
	t.Run("create page in a database", func(t *testing.T) {
		p, err := client.Page.Create(ctx, &notionapi.PageCreateRequest{
			Parent: notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: notionapi.DatabaseID(w.db)},
			Properties: notionapi.Properties{"Name": notionapi.TitleProperty{
				Title: []notionapi.RichText{{Text: &notionapi.Text{Content: "New row"}}},
			}},
		})
		require.NoError(t, err)
		assert.Equal(t, notionapi.DatabaseID(w.db), p.Parent.DatabaseID)
		assert.Contains(t, p.Properties, "Name")
	})
	t.Run("update page", func(t *testing.T) {
		id := s.Put(notiontest.Object{Parent: w.root, Title: "Before"})
		p, err := client.Page.Update(ctx, notionapi.PageID(id), &notionapi.PageUpdateRequest{
			Properties: notionapi.Properties{"title": notionapi.TitleProperty{
				Title: []notionapi.RichText{{Text: &notionapi.Text{Content: "After"}}},
			}},
		})
		require.NoError(t, err)
		assert.Equal(t, "After", pageTitle(t, p))
		assert.Equal(t, s.BotID(token), string(p.LastEditedBy.ID))
	})
	t.Run("get block", func(t *testing.T) {
		b, err := client.Block.Get(ctx, notionapi.BlockID(w.para))
		require.NoError(t, err)
		require.IsType(t, &notionapi.ParagraphBlock{}, b)
		assert.Equal(t, "hello", b.GetRichTextString())
		assert.Equal(t, notionapi.PageID(w.child), b.GetParent().PageID)
	})
	t.Run("a page is a child_page block", func(t *testing.T) {
		b, err := client.Block.Get(ctx, notionapi.BlockID(w.child))
		require.NoError(t, err)
		cp, ok := b.(*notionapi.ChildPageBlock)
		require.True(t, ok, "got %T", b)
		assert.Equal(t, "Child", cp.ChildPage.Title)
		assert.True(t, cp.HasChildren)
	})
	t.Run("get children", func(t *testing.T) {
		kids, err := client.Block.GetChildren(ctx, notionapi.BlockID(w.root), nil)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(kids.Results), 3) // other subtests add more
		assert.IsType(t, &notionapi.ChildPageBlock{}, kids.Results[0])
		assert.IsType(t, &notionapi.ParagraphBlock{}, kids.Results[1])
		assert.IsType(t, &notionapi.ChildDatabaseBlock{}, kids.Results[2])
		assert.False(t, kids.HasMore)
	})
	t.Run("append children", func(t *testing.T) {
		res, err := client.Block.AppendChildren(ctx, notionapi.BlockID(w.note), &notionapi.AppendBlockChildrenRequest{
			Children: []notionapi.Block{paragraph("one"), paragraph("two")},
		})
		require.NoError(t, err)
		require.Len(t, res.Results, 2)
		assert.Equal(t, "two", res.Results[1].GetRichTextString())

		kids, err := client.Block.GetChildren(ctx, notionapi.BlockID(w.note), nil)
		require.NoError(t, err)
		require.Len(t, kids.Results, 2)
		assert.Equal(t, "one", kids.Results[0].GetRichTextString())
	})
	t.Run("update block", func(t *testing.T) {
		id := s.Put(notiontest.Object{Type: notiontest.Block, Parent: w.root, Title: "old"})
		b, err := client.Block.Update(ctx, notionapi.BlockID(id), &notionapi.BlockUpdateRequest{
			Paragraph: &notionapi.Paragraph{RichText: []notionapi.RichText{{Text: &notionapi.Text{Content: "new"}}}},
		})
		require.NoError(t, err)
		assert.Equal(t, "new", b.GetRichTextString())
	})
	t.Run("delete block", func(t *testing.T) {
		id := s.Put(notiontest.Object{Type: notiontest.Block, Parent: w.root, Title: "doomed"})
		b, err := client.Block.Delete(ctx, notionapi.BlockID(id))
		require.NoError(t, err)
		assert.True(t, b.GetArchived())
	})
	t.Run("get database", func(t *testing.T) {
		db, err := client.Database.Get(ctx, notionapi.DatabaseID(w.db))
		require.NoError(t, err)
		assert.Equal(t, notionapi.ObjectID(w.db), db.ID)
		require.Len(t, db.Title, 1)
		assert.Equal(t, "Tasks", db.Title[0].PlainText)
		assert.Contains(t, db.Properties, "Name")
	})
	t.Run("query database", func(t *testing.T) {
		res, err := client.Database.Query(ctx, notionapi.DatabaseID(w.db), &notionapi.DatabaseQueryRequest{PageSize: 10})
		require.NoError(t, err)
		var titles []string
		for i := range res.Results {
			titles = append(titles, pageTitle(t, &res.Results[i]))
		}
		assert.Contains(t, titles, "Row")
		assert.Contains(t, titles, "Source row", "pages of the database's data sources")
	})
	t.Run("search", func(t *testing.T) {
		res, err := client.Search.Do(ctx, &notionapi.SearchRequest{})
		require.NoError(t, err)
		var kinds []notionapi.ObjectType
		for _, o := range res.Results {
			kinds = append(kinds, o.GetObject())
		}
		assert.Contains(t, kinds, notionapi.ObjectTypePage)
		assert.Contains(t, kinds, notionapi.ObjectTypeDatabase)
	})
	t.Run("comments", func(t *testing.T) {
		res, err := client.Comment.Get(ctx, notionapi.BlockID(w.para), nil)
		require.NoError(t, err)
		assert.Empty(t, res.Results)
		assert.Equal(t, notionapi.ObjectTypeList, res.Object)
	})
	t.Run("not found is a notionapi.Error", func(t *testing.T) {
		missing := s.Put(notiontest.Object{Title: "not shared"})
		_, err := client.Page.Get(ctx, notionapi.PageID(missing))
		var apiErr *notionapi.Error
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.Status)
		assert.Equal(t, notionapi.ErrorCode("object_not_found"), apiErr.Code)
	})
}

func paragraph(text string) notionapi.Block {
	return &notionapi.ParagraphBlock{
		BasicBlock: notionapi.BasicBlock{Object: notionapi.ObjectTypeBlock, Type: notionapi.BlockTypeParagraph},
		Paragraph:  notionapi.Paragraph{RichText: []notionapi.RichText{{Text: &notionapi.Text{Content: text}}}},
	}
}

func TestDataSources(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	w := seed(s, token)

	r := do(t, s, "GET", "/v1/data_sources/"+w.ds, token, nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	m := r.json(t)
	assert.Equal(t, "data_source", m["object"])
	assert.Equal(t, w.ds, m["id"])
	assert.Equal(t, map[string]any{"type": "database_id", "database_id": w.db}, m["parent"])

	r = do(t, s, "POST", "/v1/data_sources/"+w.ds+"/query", token, map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	results := r.json(t)["results"].([]any)
	require.Len(t, results, 1)
	assert.Equal(t, w.dsRow, results[0].(map[string]any)["id"])

	r = do(t, s, "GET", "/v1/databases/"+w.db, token, nil)
	assert.Equal(t, []any{map[string]any{"id": w.ds, "name": "Tasks source"}}, r.json(t)["data_sources"])

	// A database id sent to a data-source endpoint is not found, and the
	// other way round.
	r = do(t, s, "GET", "/v1/data_sources/"+w.db, token, nil)
	require.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.apiErr(t).Message, "Could not find data_source with ID: "+w.db)
	r = do(t, s, "POST", "/v1/databases/"+w.ds+"/query", token, nil)
	require.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.apiErr(t).Message, "Could not find database with ID: "+w.ds)
}

func TestPageProperty(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	w := seed(s, token)

	r := do(t, s, "GET", "/v1/pages/"+w.child+"/properties/title", token, nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	m := r.json(t)
	assert.Equal(t, "list", m["object"])
	assert.Equal(t, "property_item", m["type"])
	items := m["results"].([]any)
	require.Len(t, items, 1)
	item := items[0].(map[string]any)
	assert.Equal(t, "title", item["type"])
	assert.Equal(t, "Child", item["title"].(map[string]any)["plain_text"])

	r = do(t, s, "GET", "/v1/pages/"+w.child+"/properties/xyz", token, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "object_not_found", r.apiErr(t).Code)
}

func TestVisibility(t *testing.T) {
	t.Parallel()
	type setupFunc func(s *notiontest.Server, w workspace, token, other string)
	tests := []struct {
		name    string
		arrange setupFunc
		path    func(w workspace) string
		asOther bool
		want    int
		kind    string // in the 404 message
	}{
		{name: "shared root", path: func(w workspace) string { return "/v1/pages/" + w.root }, want: 200},
		{name: "descendant of a shared page", path: func(w workspace) string { return "/v1/blocks/" + w.para }, want: 200},
		{name: "row of a database under a shared page", path: func(w workspace) string { return "/v1/pages/" + w.row }, want: 200},
		{name: "other token sees nothing", asOther: true,
			path: func(w workspace) string { return "/v1/pages/" + w.child }, want: 404, kind: "page"},
		{name: "unshared root",
			arrange: func(s *notiontest.Server, w workspace, token, _ string) { s.Unshare(w.root, token) },
			path:    func(w workspace) string { return "/v1/blocks/" + w.para }, want: 404, kind: "block"},
		{name: "still shared through an ancestor",
			arrange: func(s *notiontest.Server, w workspace, token, _ string) {
				s.Share(w.child, token)
				s.Unshare(w.child, token)
			},
			path: func(w workspace) string { return "/v1/pages/" + w.child }, want: 200},
		{name: "shared child only: its parent stays hidden", asOther: true,
			arrange: func(s *notiontest.Server, w workspace, _, other string) { s.Share(w.child, other) },
			path:    func(w workspace) string { return "/v1/pages/" + w.root }, want: 404, kind: "page"},
		{name: "shared child only: the child is visible", asOther: true,
			arrange: func(s *notiontest.Server, w workspace, _, other string) { s.Share(w.child, other) },
			path:    func(w workspace) string { return "/v1/pages/" + w.child }, want: 200},
		{name: "deleted although shared",
			arrange: func(s *notiontest.Server, w workspace, _, _ string) { s.Delete(w.child) },
			path:    func(w workspace) string { return "/v1/pages/" + w.child }, want: 404, kind: "page"},
		{name: "descendant of a deleted page",
			arrange: func(s *notiontest.Server, w workspace, _, _ string) { s.Delete(w.child) },
			path:    func(w workspace) string { return "/v1/blocks/" + w.para }, want: 404, kind: "block"},
		{name: "deleted database",
			arrange: func(s *notiontest.Server, w workspace, _, _ string) { s.Delete(w.db) },
			path:    func(w workspace) string { return "/v1/databases/" + w.db }, want: 404, kind: "database"},
		{name: "put again after delete",
			arrange: func(s *notiontest.Server, w workspace, _, _ string) {
				s.Delete(w.child)
				s.Put(notiontest.Object{ID: w.child, Parent: w.root, Title: "Back"})
			},
			path: func(w workspace) string { return "/v1/pages/" + w.child }, want: 200},
		{name: "undashed id in the URL",
			path: func(w workspace) string { return "/v1/pages/" + strings.ReplaceAll(w.child, "-", "") }, want: 200},
		{name: "unknown id", path: func(workspace) string { return "/v1/pages/00000000-0000-4000-8000-000000000000" },
			want: 404, kind: "page"},
		{name: "wrong type", path: func(w workspace) string { return "/v1/pages/" + w.para }, want: 404, kind: "page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, token := setup(t)
			other := s.NewToken()
			w := seed(s, token)
			if tt.arrange != nil {
				tt.arrange(s, w, token, other)
			}
			as := token
			if tt.asOther {
				as = other
			}
			path := tt.path(w)
			r := do(t, s, "GET", path, as, nil)
			require.Equal(t, tt.want, r.status, "body: %s", r.body)
			if tt.want == http.StatusNotFound {
				e := r.apiErr(t)
				assert.Equal(t, "object_not_found", e.Code)
				id := path[strings.LastIndex(path, "/")+1:]
				wantMsg := fmt.Sprintf("Could not find %s with ID: %s. Make sure the relevant pages and databases are shared with your integration.", tt.kind, id)
				assert.Equal(t, wantMsg, e.Message)
			}
		})
	}
}

func TestCreatedPagesInheritVisibility(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	other := s.NewToken()
	w := seed(s, token)
	ctx := context.Background()

	p, err := newClient(s, token).Page.Create(ctx, &notionapi.PageCreateRequest{
		Parent: notionapi.Parent{Type: notionapi.ParentTypePageID, PageID: notionapi.PageID(w.child)},
	})
	require.NoError(t, err)
	_, err = newClient(s, other).Page.Get(ctx, notionapi.PageID(p.ID))
	require.Error(t, err, "a token that cannot see the parent cannot see the new page")

	s.Share(w.child, other)
	_, err = newClient(s, other).Page.Get(ctx, notionapi.PageID(p.ID))
	require.NoError(t, err)

	s.Unshare(w.root, token)
	_, err = newClient(s, token).Page.Get(ctx, notionapi.PageID(p.ID))
	require.Error(t, err)

	// A page created at the workspace level belongs to its creator.
	r := do(t, s, "POST", "/v1/pages", other, map[string]any{"parent": map[string]any{"workspace": true}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	id := r.json(t)["id"].(string)
	assert.Equal(t, 200, do(t, s, "GET", "/v1/pages/"+id, other, nil).status)
	assert.Equal(t, 404, do(t, s, "GET", "/v1/pages/"+id, token, nil).status)
}

func TestCreatePageMissingParent(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	hiddenPage := s.Put(notiontest.Object{Title: "hidden"})
	hiddenDB := s.Put(notiontest.Object{Type: notiontest.Database, Title: "hidden db"})
	undashed := strings.ReplaceAll(hiddenPage, "-", "")

	tests := []struct {
		name    string
		parent  map[string]any
		wantMsg string
	}{
		{"page parent", map[string]any{"page_id": undashed},
			"Could not find page with ID: " + hiddenPage + "."},
		{"database parent", map[string]any{"database_id": hiddenDB},
			"Could not find database with ID: " + hiddenDB + "."},
		{"unknown parent", map[string]any{"type": "page_id", "page_id": "11111111-1111-4111-8111-111111111111"},
			"Could not find page with ID: 11111111-1111-4111-8111-111111111111."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, "POST", "/v1/pages", token, map[string]any{"parent": tt.parent})
			require.Equal(t, http.StatusNotFound, r.status, "body: %s", r.body)
			e := r.apiErr(t)
			assert.Equal(t, "object_not_found", e.Code)
			assert.True(t, strings.HasPrefix(e.Message, tt.wantMsg), "message %q, want prefix %q", e.Message, tt.wantMsg)
		})
	}

	r := do(t, s, "POST", "/v1/pages", token, map[string]any{})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "validation_error", r.apiErr(t).Code)
}

func TestArchived(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	w := seed(s, token)
	client := newClient(s, token)
	ctx := context.Background()

	_, err := client.Block.Delete(ctx, notionapi.BlockID(w.note))
	require.NoError(t, err)

	b, err := client.Block.Get(ctx, notionapi.BlockID(w.note))
	require.NoError(t, err, "an archived block stays readable")
	assert.True(t, b.GetArchived())

	kids, err := client.Block.GetChildren(ctx, notionapi.BlockID(w.root), nil)
	require.NoError(t, err)
	for _, k := range kids.Results {
		assert.NotEqual(t, notionapi.BlockID(w.note), k.GetID(), "archived blocks are not listed")
	}

	_, err = client.Block.AppendChildren(ctx, notionapi.BlockID(w.note), &notionapi.AppendBlockChildrenRequest{
		Children: []notionapi.Block{paragraph("x")},
	})
	var apiErr *notionapi.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, notionapi.ErrorCode("validation_error"), apiErr.Code)

	// Archiving a page through PATCH, then restoring it.
	r := do(t, s, "PATCH", "/v1/pages/"+w.child, token, map[string]any{"archived": true})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, true, r.json(t)["archived"])
	r = do(t, s, "PATCH", "/v1/pages/"+w.child, token, map[string]any{"in_trash": false})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, false, r.json(t)["archived"])
}

func TestSearch(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	w := seed(s, token)
	s.Put(notiontest.Object{Title: "Roadmap hidden"}) // not shared

	ids := func(r response) []string {
		var out []string
		for _, o := range r.json(t)["results"].([]any) {
			out = append(out, o.(map[string]any)["id"].(string))
		}
		return out
	}
	tests := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"everything visible", map[string]any{}, []string{w.root, w.child, w.db, w.row, w.dsRow}},
		{"query ignores case", map[string]any{"query": "ROW"}, []string{w.row, w.dsRow}},
		{"databases only", map[string]any{"filter": map[string]any{"property": "object", "value": "database"}}, []string{w.db}},
		{"no match", map[string]any{"query": "Roadmap"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, "POST", "/v1/search", token, tt.body)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			assert.Equal(t, tt.want, ids(r))
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	parent := s.Put(notiontest.Object{Title: "parent"})
	s.Share(parent, token)
	var want []notionapi.BlockID
	for i := range 5 {
		want = append(want, notionapi.BlockID(s.Put(notiontest.Object{Type: notiontest.Block, Parent: parent, Title: fmt.Sprint(i)})))
	}
	client := newClient(s, token)

	var got []notionapi.BlockID
	var cursor notionapi.Cursor
	pages := 0
	for {
		res, err := client.Block.GetChildren(context.Background(), notionapi.BlockID(parent),
			&notionapi.Pagination{PageSize: 2, StartCursor: cursor})
		require.NoError(t, err)
		pages++
		for _, b := range res.Results {
			got = append(got, b.GetID())
		}
		if !res.HasMore {
			assert.Empty(t, res.NextCursor)
			break
		}
		cursor = notionapi.Cursor(res.NextCursor)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 3, pages)

	r := do(t, s, "GET", "/v1/blocks/"+parent+"/children?page_size=101", token, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = do(t, s, "GET", "/v1/blocks/"+parent+"/children?start_cursor=nope", token, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
}

func TestPutIDs(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	id := s.Put(notiontest.Object{ID: "0123456789ABCDEF0123456789ABCDEF", Title: "x"})
	assert.Equal(t, "01234567-89ab-cdef-0123-456789abcdef", id)
	generated := s.Put(notiontest.Object{})
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, generated)

	// Sharing by an undashed id, before Put, works too.
	later := "fedcba98765443218765fedcba987654"
	s.Share(later, token)
	dashedLater := s.Put(notiontest.Object{ID: later, Title: "later"})
	r := do(t, s, "GET", "/v1/pages/"+dashedLater, token, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, dashedLater, r.json(t)["id"])
}

func TestCommentsNeedVisibleBlock(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	hidden := s.Put(notiontest.Object{})
	_, err := newClient(s, token).Comment.Get(context.Background(), notionapi.BlockID(hidden), nil)
	var apiErr *notionapi.Error
	require.True(t, errors.As(err, &apiErr), "got %v", err)
	assert.Equal(t, http.StatusNotFound, apiErr.Status)

	r := do(t, s, "GET", "/v1/comments", token, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
}
