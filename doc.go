// Package notionauth keeps apps that talk to Notion's API connected.
package notionauth
