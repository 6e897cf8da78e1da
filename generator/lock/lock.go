// Package lock gives one graft command at a time a migration: every command
// that creates, deletes or writes takes an exclusive lock on a file beside
// the migration's record (graft.lock) before it reads or changes anything.
//
// The lock is the kernel's flock(2) on that file, so it is released however
// the holder ends, SIGKILL and crashes included. The file also names the
// holder (pid, host, command, since when), so that a refused command can
// say who holds it; the holder removes the file when it releases the lock.
// A file left behind by a holder that died is detected: on this host the
// kernel has released its lock and the next command proceeds (and says so);
// a file written on another host cannot be verified from here, so graft
// refuses and tells the user how to clear it.
package lock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graftctl/graft/generator/termtext"
)

// Suffix is appended to the record's path to name the lock file:
// graft.lock.flock beside graft.lock.
const Suffix = ".flock"

// ErrHeld is wrapped by the error of Acquire when another command holds the
// lock, or may hold it.
var ErrHeld = errors.New("the migration is in use")

// Holder is what the lock file says about the command that holds it.
type Holder struct {
	Migration string    `json:"migration,omitempty"`
	Command   string    `json:"command"`
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Since     time.Time `json:"since"`
}

// String names the holder for a person; the command and host come from
// the lock file, which anyone who may write there can write, so they are
// escaped (termtext.Line, Value): they cannot add a line to the message.
func (h Holder) String() string {
	return fmt.Sprintf("graft %s (pid %d on host %s, since %s)", termtext.Line(h.Command), h.PID, termtext.Value(h.Host), h.Since.UTC().Format(time.RFC3339))
}

// Lock is a held migration lock.
type Lock struct {
	path string
	f    *os.File
	// Stale names the holder whose file was left behind by a command that
	// ended without releasing the lock (killed, or crashed), if any.
	Stale *Holder
}

// Path is the lock file of the record at recordPath, beside the record's
// real file: symlinks are resolved (of the record, or of its directory when
// it does not exist yet), so that every name of one record (a symlink to
// it, a path through a symlinked directory, relative or absolute) leads to
// the one lock, and two commands cannot each hold a lock of their own.
func Path(recordPath string) string { return realPath(recordPath) + Suffix }

// realPath is path absolute with its symlinks resolved, as far as it
// exists; path as it is when even its directory cannot be resolved.
func realPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if _, err := os.Lstat(abs); err == nil {
		// A dangling symlink: Acquire refuses it by name.
		return abs
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// attempts bounds the retries when the lock file is replaced while it is
// being opened (its holder released it and another command took it).
const attempts = 10

// Acquire takes the lock at path for the command, without waiting. If
// another command holds it, the error wraps ErrHeld and names the holder.
func Acquire(path string, me Holder) (*Lock, error) {
	if me.PID == 0 {
		me.PID = os.Getpid()
	}
	if me.Host == "" {
		me.Host = hostname()
	}
	if me.Since.IsZero() {
		me.Since = time.Now()
	}
	for range attempts {
		l, retry, err := try(path, me)
		if err != nil || !retry {
			return l, err
		}
	}
	return nil, fmt.Errorf("%w: the lock file %s was replaced %d times while graft opened it; another graft is starting and stopping on this migration", ErrHeld, path, attempts)
}

// try makes one attempt; retry says the file was unlinked or replaced
// between open and flock, so the lock taken is on a file nobody else sees.
func try(path string, me Holder) (l *Lock, retry bool, err error) {
	// The lock file is graft's own: never followed through a symlink
	// (graft would overwrite what it points at, graft.lock for one), never
	// a FIFO or device (opening it must not block), never a second name of
	// another file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openFlags, 0o644)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, false, fmt.Errorf("lock the migration: %s is a symlink; graft keeps its lock only in a regular file of its own, never through a link (it would overwrite the file linked to): remove %s and run again", path, path)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("lock the migration: the directory %s does not exist; expected an existing directory, where the record (graft.lock, or --lock FILE) is and its lock %s goes", filepath.Dir(path), filepath.Base(path))
		}
		if notWritable(err) {
			return nil, false, fmt.Errorf("lock the migration: %w; every command that writes takes its lock in a file beside the record (graft.lock): run where you may write there, or name a record elsewhere with --lock", err)
		}
		return nil, false, fmt.Errorf("lock the migration: %w", err)
	}
	defer func() {
		if l == nil {
			f.Close()
		}
	}()
	if err := ownFile(f, path); err != nil {
		return nil, false, fmt.Errorf("lock the migration: %w", err)
	}
	held, err := flock(f)
	if err != nil {
		return nil, false, fmt.Errorf("lock the migration: flock %s: %w", path, err)
	}
	if !held {
		return nil, false, refusal(path, f)
	}
	same, err := samefile(f, path)
	if err != nil {
		return nil, false, fmt.Errorf("lock the migration: %w", err)
	}
	if !same {
		return nil, true, nil
	}
	l = &Lock{path: path, f: f}
	defer func() {
		// Not taken after all (another host's file, or the holder could
		// not be written: a full disk): the file goes, unless it names
		// another host's holder, as a release removes it, still locked.
		if err != nil && !errors.Is(err, ErrHeld) {
			_ = os.Remove(path)
		}
		if err != nil {
			l = nil
		}
	}()
	if prev, ok := readHolder(f); ok {
		if prev.Host != me.Host {
			// On another host the kernel's lock may not reach this one
			// (a network filesystem): its holder may still run.
			return nil, false, fmt.Errorf("%w: %s was written by %s on another host, and graft cannot verify from %s whether it still runs; if it does not (it was killed or its host stopped), remove %s and run again",
				ErrHeld, path, prev, me.Host, path)
		}
		l.Stale = &prev
	}
	data, err := json.Marshal(me)
	if err != nil {
		return nil, false, err
	}
	if err := f.Truncate(0); err != nil {
		return nil, false, fmt.Errorf("lock the migration: %w", err)
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return nil, false, fmt.Errorf("lock the migration: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, false, fmt.Errorf("lock the migration: %w", err)
	}
	return l, false, nil
}

// holderWait bounds how long a refusal waits for the holder to write its
// name, which it does right after it takes the lock.
const holderWait = time.Second

// refusal explains who holds the lock. A refusal that reads the file
// before the holder has written its name waits a moment for it (bounded
// by holderWait), so that it can say who holds the lock.
func refusal(path string, f *os.File) error {
	h, ok := readHolder(f)
	for deadline := time.Now().Add(holderWait); !ok && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		h, ok = readHolder(f)
	}
	switch {
	case !ok:
		return fmt.Errorf("%w: another graft command holds the lock %s (it has not written its name yet); wait for it to finish", ErrHeld, path)
	case h.Host == hostname() && !alive(h.PID):
		return fmt.Errorf("%w: the lock %s names %s, which is no longer running, yet the lock is still held, by a process it started; find it with `fuser %s`, stop it, and run again",
			ErrHeld, path, h, path)
	}
	return fmt.Errorf("%w: migration %s is locked by %s; wait for it to finish (the lock is %s, released when that command exits)", ErrHeld, orUnknown(h.Migration), h, path)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

func readHolder(f *os.File) (Holder, bool) {
	var h Holder
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	data := strings.TrimSpace(string(buf[:n]))
	if data == "" || json.Unmarshal([]byte(data), &h) != nil || h.PID == 0 {
		return Holder{}, false
	}
	return h, true
}

// Release removes the lock file and releases the lock. It is safe to call
// on a nil Lock and more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Unlink while still holding it: a command that opened the old file
	// meanwhile finds it replaced (samefile) and opens the path again.
	err := os.Remove(l.path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}
