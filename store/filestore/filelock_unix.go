//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package filestore

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Polling intervals while another process holds a Store's lock: the
// first wait, doubled after each try up to the last. The last is short
// because the processes waiting at the turnstile race for it at each
// poll: a long interval would favour those that just arrived over those
// that have waited longest.
const (
	lockPollMin = time.Millisecond
	lockPollMax = 5 * time.Millisecond
)

// lockFile takes an exclusive or shared flock(2) on f. It tries without
// blocking and sleeps between tries, so that it can give up as soon as ctx
// is done, without leaving a goroutine blocked in the kernel.
func lockFile(ctx context.Context, f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	wait := lockPollMin
	for {
		err := flock(f, how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, lockPollMax)
	}
}

// unlockFile releases f's flock.
func unlockFile(f *os.File) error { return flock(f, syscall.LOCK_UN) }

// flock calls flock(2) on f's descriptor, retrying when interrupted.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// syncDir flushes the directory dir, so that a rename in it is durable.
// File systems that cannot sync a directory are tolerated.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}
