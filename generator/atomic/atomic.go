// Package atomic writes files, and replaces directories, so that a reader
// sees either the old content or the new, never a half-written file or a
// missing directory, even if graft is killed mid-write.
package atomic

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// umask is the process's umask: the files and directories put in place
// get the permissions that os.WriteFile and os.Mkdir would give them, not
// those of the private temporary file or directory they were written in.
var umask = processUmask()

// WriteFile writes data to a temporary file in the directory of path,
// syncs it and renames it over path. The file gets perm less the umask,
// as with os.WriteFile.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileContext(context.Background(), path, data, perm)
}

// WriteFileContext is WriteFile that writes nothing once ctx is done: it
// checks ctx before it starts and again just before the rename, the moment
// the new content becomes visible.
func WriteFileContext(ctx context.Context, path string, data []byte, perm os.FileMode) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(perm &^ umask); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
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
