package lock

import (
	"context"
	"fmt"
	"os"
	"time"
)

// DirLock is a held flock(2) on a directory: a work directory of a live
// command (render's build directory), which another command must not take
// for the leftover of one that was killed.
type DirLock struct{ f *os.File }

// TryDir takes an exclusive flock(2) on the directory at path without
// waiting. ok is false when another command holds it: the directory is in
// use, not left behind. The kernel releases the lock however its holder
// ends, SIGKILL included, so a directory whose lock can be taken belongs
// to no live command. Where graft cannot take such a lock (not unix),
// TryDir returns an error: the caller must treat the directory as in use.
func TryDir(path string) (l *DirLock, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.IsDir() {
		err = fmt.Errorf("%s is not a directory", path)
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	got, err := flock(f)
	if err != nil || !got {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", path, err)
		}
		return nil, false, nil
	}
	return &DirLock{f: f}, true, nil
}

// Release releases the lock; a nil DirLock is released already.
func (l *DirLock) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// waitPoll is how often WaitDir tries again.
const waitPoll = 20 * time.Millisecond

// WaitDir is TryDir until it takes the lock, ctx is done, or max has
// passed: a directory another command holds only for a moment (render
// holds an overlay's parent while it swaps the overlay in) is waited for,
// within a bound. ok is false when the time ran out with the lock held.
func WaitDir(ctx context.Context, path string, max time.Duration) (l *DirLock, ok bool, err error) {
	deadline := time.Now().Add(max)
	for {
		l, ok, err := TryDir(path)
		if err != nil || ok || !time.Now().Before(deadline) {
			return l, ok, err
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(waitPoll):
		}
	}
}

// TryFile takes an exclusive flock(2) on the open file f without waiting,
// held until f is closed: the mark of a file a live command is still
// writing (atomic's temporary file), which another must not take for the
// leftover of one that was killed. ok is false when another holds it;
// where graft cannot lock (not unix), an error, and the file must be
// treated as in use.
func TryFile(f *os.File) (ok bool, err error) { return flock(f) }
