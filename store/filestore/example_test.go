package filestore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/notionauth/notionauth"
	"github.com/notionauth/notionauth/store/filestore"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	key := make([]byte, 32) // in an app: loaded from a secret manager, never from the code
	if _, err := rand.Read(key); err != nil {
		fmt.Println(err)
		return
	}
	store, err := filestore.New(filepath.Join(dir, "grants"), key)
	if err != nil {
		fmt.Println(err) // a key of the wrong size: a *notionauth.KeySizeError
		return
	}
	m := &notionauth.Manager{Store: store} // with a Config for OAuth
	err = m.Connect(context.Background(), "workspace-1", &notionauth.Token{AccessToken: "ntn_example"})
	fmt.Println(err)
	g, err := store.Get(context.Background(), "workspace-1")
	fmt.Println(g.Version, err)
	fmt.Printf("%v\n", store.EncryptionKey)
	// Output:
	// <nil>
	// 1 <nil>
	// [redacted]
}
