package atomic

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/graftctl/graft/generator/boundedio"
)

// AsideSuffix names the sibling of a directory where ReplaceDir sets the
// previous content aside while it swaps in the new one.
const AsideSuffix = ".graft-old"

// Aside is where ReplaceDir sets the previous content of dst aside.
func Aside(dst string) string { return filepath.Clean(dst) + AsideSuffix }

// step is called between ReplaceDir's steps; tests make it stop there, as
// a kill would.
var step = func(string) {}

// ReplaceDir moves the fully written directory src into place at dst, so a
// reader sees the old directory or the new one. It syncs src's files, and
// since a directory cannot be renamed over a non-empty one, it first sets
// an existing dst aside at Aside(dst), renames src to dst, and removes the
// aside copy only once src is in place. If graft dies between the two
// renames, RecoverDir puts the previous directory back.
//
// Only directories are moved: a file or a symlink at src or dst is
// refused, never followed, and so is anything already at Aside(dst),
// whether dst exists or not (RecoverDir clears what is the caller's; the
// rest is not deleted). The directory in place gets dirMode().
func ReplaceDir(src, dst string) error {
	src, dst = filepath.Clean(src), filepath.Clean(dst)
	if err := isDir(src); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	// Something at the aside path may be the previous content of an
	// interrupted replace: RecoverDir, not ReplaceDir, decides about it.
	if _, err := os.Lstat(Aside(dst)); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %s exists (%v); expected nothing there, where the previous content is set aside (RecoverDir first)", dst, Aside(dst), err)
	}
	old := ""
	switch err := isDir(dst); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("replace %s: %w", dst, err)
	default:
		old = Aside(dst)
	}
	if err := os.Chmod(src, dirMode()); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := syncTree(src); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if old != "" {
		swapped, err := swapDirs(src, dst, old)
		if err != nil || swapped {
			return err
		}
		if err := os.Rename(dst, old); err != nil {
			return fmt.Errorf("replace %s: %w", dst, err)
		}
		step("aside")
	}
	if err := os.Rename(src, dst); err != nil {
		if old != "" {
			_ = os.Rename(old, dst)
		}
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	step("placed")
	if err := syncParent(dst); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("replace %s: remove the previous content at %s: %w", dst, old, err)
		}
	}
	return nil
}

// exchangeDirs is exchange; tests make it fail as on a filesystem that
// cannot exchange.
var exchangeDirs = exchange

// swapDirs replaces the directory dst with src where the kernel can swap
// two directories in one step, so that dst is never missing: src is
// renamed to old (the aside path), exchanged with dst, and what is then at
// old (the previous content) removed. Killed after the first rename, the
// new content is at old beside the complete previous dst; killed after
// the exchange, the previous content is at old beside the complete new
// dst: in both RecoverDir removes old. swapped is false, and src is back
// where it was, when the filesystem cannot exchange.
func swapDirs(src, dst, old string) (swapped bool, err error) {
	if err := os.Rename(src, old); err != nil {
		return false, fmt.Errorf("replace %s: %w", dst, err)
	}
	step("new aside")
	if err := exchangeDirs(old, dst); err != nil {
		if rerr := os.Rename(old, src); rerr != nil {
			return false, fmt.Errorf("replace %s: %w (and moving the new content back to %s: %v)", dst, err, src, rerr)
		}
		if exchangeUnsupported(err) {
			return false, nil
		}
		return false, fmt.Errorf("replace %s: %w", dst, err)
	}
	step("exchanged")
	if err := syncParent(dst); err != nil {
		return true, fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := os.RemoveAll(old); err != nil {
		return true, fmt.Errorf("replace %s: remove the previous content at %s: %w", dst, old, err)
	}
	return true, nil
}

// dirMode is the permissions the directory put in place gets: those
// os.Mkdir gives a new one (0777 less the umask), as the directory is new,
// never the 0700 of os.MkdirTemp, where it was written (which an overlay
// rendered before kept, and so heals).
func dirMode() fs.FileMode { return fs.ModePerm &^ umask }

// RecoverDir finishes what an interrupted ReplaceDir left at dst: the
// previous content set aside and nothing in its place is moved back; a
// leftover aside copy beside a complete dst is removed. Aside(dst) is the
// caller's only by its name, which anyone can give a directory, so before
// it moves or deletes anything RecoverDir calls owned, which returns an
// error to refuse (dstMissing says which of the two RecoverDir would do).
// A file or a symlink at Aside(dst) is refused without asking owned.
func RecoverDir(dst string, owned func(aside string, dstMissing bool) error) error {
	dst = filepath.Clean(dst)
	old := Aside(dst)
	switch err := isDir(old); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("recover %s: %w; expected the directory set aside while %s was replaced", dst, err, dst)
	}
	_, err := os.Lstat(dst)
	dstMissing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !dstMissing {
		return fmt.Errorf("recover %s: %w", dst, err)
	}
	if err := owned(old, dstMissing); err != nil {
		return err
	}
	if dstMissing {
		if err := os.Rename(old, dst); err != nil {
			return fmt.Errorf("recover %s: restore the previous content from %s: %w", dst, old, err)
		}
		return syncParent(dst)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("recover %s: remove %s: %w", dst, old, err)
	}
	return nil
}

// isDir returns nil if path is a directory (not a symlink to one), an
// error wrapping fs.ErrNotExist if nothing is there, and an error naming
// what is there otherwise.
func isDir(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symlink; expected a directory (graft does not follow it)", path)
	case !fi.IsDir():
		return fmt.Errorf("%s is %s; expected a directory", path, boundedio.FileKind(fi.Mode()))
	}
	return nil
}

// syncTree syncs every regular file and directory under dir (symlinks are
// not followed), so that the content is durable before it is renamed into
// place.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// syncParent makes a rename in path's directory durable.
func syncParent(path string) error {
	dir := filepath.Dir(path)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
