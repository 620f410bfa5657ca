//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errNoFileLock is what a Store returns where flock(2) does not exist.
var errNoFileLock = fmt.Errorf("filestore: Store needs flock(2) file locking, which is not implemented on %s: %w",
	runtime.GOOS, errors.ErrUnsupported)

// lockFile fails: this platform has no flock(2), and a Store without
// cross-process locking could lose a rotated refresh token.
func lockFile(ctx context.Context, f *os.File, exclusive bool) error { return errNoFileLock }

func unlockFile(f *os.File) error { return errNoFileLock }

func syncDir(dir string) error { return errNoFileLock }
