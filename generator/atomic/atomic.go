// Package atomic writes files, and replaces directories, so that a reader
// sees either the old content or the new, never a half-written file or a
// missing directory, even if graft is killed mid-write.
package atomic

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/generator/termtext"
)

// umask is the process's umask: the files and directories put in place
// get the permissions that os.WriteFile and os.Mkdir would give them, not
// those of the private temporary file or directory they were written in.
var umask = processUmask()

// WriteFile writes data to a temporary file in the directory of path,
// syncs it and renames it over path. The file gets perm less the umask,
// as with os.WriteFile. A symlink at path is written through (the file
// it leads to is replaced, the link stays); anything at path that is not
// a regular file (a device such as /dev/null, a FIFO, a directory, a
// dangling symlink) is refused, never replaced.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileContext(context.Background(), path, data, perm)
}

// WriteFileContext is WriteFile that writes nothing once ctx is done: it
// checks ctx before it starts and again just before the rename, the moment
// the new content becomes visible.
func WriteFileContext(ctx context.Context, path string, data []byte, perm os.FileMode) (err error) {
	// Its errors name path (the user's, or beside the user's spec): one
	// line whatever it holds (termtext.Error).
	defer func() { err = termtext.Error(err) }()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := path
	if path, err = writeTarget(path); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	dir := filepath.Dir(path)
	removeStaleTemps(dir, filepath.Base(path))
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+tmpInfix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %s: the directory %s does not exist; expected an existing directory", name, dir)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, cause(err))
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	// Held while the file is written (until it is closed), so that a
	// concurrent write does not take it for a killed one's leftover.
	_, _ = lock.TryFile(tmp)
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, cause(err))
	}
	if err = tmp.Chmod(perm &^ umask); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, cause(err))
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, cause(err))
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, cause(err))
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Make the rename itself durable.
	if err := syncParent(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// maxStaleTemps bounds the leftovers one write looks at.
const maxStaleTemps = 100

// staleAge is how old a temporary file must be to be taken for a
// leftover: a write holds its file from a moment after creating it.
const staleAge = 10 * time.Second

// removeStaleTemps removes the temporary files a write of base in dir
// that was killed (SIGKILL, a crash) left there: a hidden copy that a
// `git add -A` would commit beside the record. A file of that name is
// such a leftover only if it is a regular file older than staleAge that
// no live write holds (each holds its own, lock.TryFile); anything else
// is left as it is.
func removeStaleTemps(dir, base string) {
	names, err := filepath.Glob(filepath.Join(dir, "."+base+tmpInfix+"*"))
	if err != nil {
		return
	}
	for _, name := range names[:min(len(names), maxStaleTemps)] {
		if fi, err := os.Lstat(name); err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < staleAge {
			continue
		}
		f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		if free, err := lock.TryFile(f); err == nil && free {
			_ = os.Remove(name)
		}
		f.Close()
	}
}

// tmpInfix names the temporary file WriteFile writes in:
// .graft.lock.tmp-123 for graft.lock.
const tmpInfix = ".tmp-"

// cause is err without the name of the temporary file it happened to (a
// write's "write .graft.lock.tmp-123: no space left on device"): messages
// name the file graft writes, and the cause.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(filepath.Base(pe.Path), tmpInfix) {
		return pe.Err
	}
	return err
}

// writeTarget is the file WriteFile replaces for path: path, or the file a
// symlink there leads to; an error for anything but a regular file or
// nothing at path.
func writeTarget(path string) (string, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path, nil
	case err != nil:
		return "", err
	case fi.Mode()&fs.ModeSymlink != 0:
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return "", fmt.Errorf("%s is a symlink that leads to no file (%v); expected a regular file, or a symlink to one", path, err)
		}
		if fi, err = os.Stat(real); err != nil {
			return "", err
		}
		path = real
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is %s; graft writes only regular files, and would replace it", path, boundedio.FileKind(fi.Mode()))
	}
	return path, nil
}
