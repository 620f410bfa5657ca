module github.com/notionauth/notionauth

go 1.24.0

require (
	github.com/jomei/notionapi v1.13.3 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	golang.org/x/oauth2 v0.35.0 // indirect
	golang.org/x/sync v0.19.0 // indirect
)
