module github.com/notionauth/notionauth

go 1.24.0

require (
	github.com/jomei/notionapi v1.13.3
	github.com/stretchr/testify v1.11.1
	golang.org/x/oauth2 v0.35.0
	golang.org/x/sync v0.19.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
