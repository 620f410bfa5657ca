module github.com/notionauth/notionauth/bench

go 1.24.0

replace github.com/notionauth/notionauth => ../

require (
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/jomei/notionapi v1.13.3
	github.com/notionauth/notionauth v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.11.1
	golang.org/x/oauth2 v0.35.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	golang.org/x/sync v0.19.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
