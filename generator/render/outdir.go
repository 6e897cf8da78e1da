package render

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// maxReplaced bounds the entries of a directory render will replace: an
// overlay holds a handful of files, so a directory with more is not one.
const maxReplaced = 10000

// outField names where the output directory comes from, for messages.
const outField = "output directory (--out, or spec.gitops.overlayPath)"

// checkOutDir refuses an output directory render must never write or
// replace, whatever --force says: the base, a directory inside it or that
// holds it, anything in a git directory, a directory holding a repository,
// and another migration's overlay. Paths are compared as they really are,
// symlinks resolved. Without force, it also refuses a directory graft did
// not write.
func checkOutDir(m *spec.Migration, outDir, baseDir string, force, dryRun bool) error {
	out, err := realPath(outDir)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %s", ErrInvalid, outField, termtext.Value(outDir), termtext.Line(err.Error()))
	}
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return fmt.Errorf("%w: %s %s is %s; expected a directory (or nothing there, for graft to make)", ErrInvalid, outField, termtext.Value(outDir), boundedio.FileKind(fi.Mode()))
	}
	// A claims-only overlay may have no base (spec.gitops.base ""): then
	// there is none to keep apart from the overlay.
	hasBase := m.Spec.GitOps.Base != ""
	base := ""
	if hasBase {
		if base, err = filepath.EvalSymlinks(baseDir); err != nil {
			return fmt.Errorf("%w: spec.gitops.base %s: %s", ErrInvalid, termtext.Value(baseDir), termtext.Line(err.Error()))
		}
		if base, err = filepath.Abs(base); err != nil {
			return err
		}
	}
	switch {
	case !hasBase:
	case within(out, base):
		return fmt.Errorf("%w: %s %s is the kustomize base %s or lies inside it (spec.gitops.base %q resolves there from it); graft never writes into the base: choose another --out, apart from the base",
			ErrInvalid, outField, termtext.Value(outDir), termtext.Value(base), m.Spec.GitOps.Base)
	case within(base, out):
		return fmt.Errorf("%w: %s %s holds the kustomize base %s (spec.gitops.base %q); replacing it would delete the base: choose another --out, apart from the base",
			ErrInvalid, outField, termtext.Value(outDir), termtext.Value(base), m.Spec.GitOps.Base)
	}
	for d := out; ; d = filepath.Dir(d) {
		if isGitDir(d) {
			return fmt.Errorf("%w: %s %s lies in the git directory %s; git commits nothing there: choose a directory of the work tree", ErrInvalid, outField, termtext.Value(outDir), termtext.Value(d))
		}
		if d != out {
			if o, ok := owner(filepath.Join(d, KustomizationFile)); ok {
				return fmt.Errorf("%w: %s %s lies inside the overlay of migration %q (%s), which graft replaces as a whole: choose a directory apart from every overlay", ErrInvalid, outField, termtext.Value(outDir), o, termtext.Value(d))
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	// A symlink may lead out of the repository the path names: the
	// overlay must really be in it, or git commits nothing.
	if abs, err := filepath.Abs(outDir); err == nil {
		if lexical := workTree(filepath.Dir(abs)); lexical != "" {
			if real, err := filepath.EvalSymlinks(lexical); err == nil && !within(out, real) {
				return fmt.Errorf("%w: %s %s resolves to %s, outside the repository %s that its path names (a symlink leads out of it); git would commit nothing: choose a directory of the repository", ErrInvalid, outField, termtext.Value(outDir), termtext.Value(out), termtext.Value(lexical))
			}
		}
	}
	if root := workTree(filepath.Dir(out)); root != "" && hasBase {
		if !within(base, root) {
			return fmt.Errorf("%w: spec.gitops.base %q resolves to %s, outside the repository %s that holds the overlay %s; expected a base inside the repository (Flux and Argo CD read nothing else)",
				ErrInvalid, m.Spec.GitOps.Base, termtext.Value(base), termtext.Value(root), termtext.Value(outDir))
		}
		if rel, _ := filepath.Rel(root, base); spec.InGitDir(filepath.ToSlash(rel)) {
			return fmt.Errorf("%w: spec.gitops.base %q resolves to %s, in the git directory of %s; expected a directory of the work tree", ErrInvalid, m.Spec.GitOps.Base, termtext.Value(base), termtext.Value(root))
		}
	}
	if dryRun {
		return nil
	}
	return checkReplace(m, outDir, force)
}

// checkReplace decides whether the existing dir may be replaced.
func checkReplace(m *spec.Migration, dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s %s: %s", ErrInvalid, outField, termtext.Value(dir), termtext.Line(err.Error()))
	}
	if len(entries) == 0 {
		return nil
	}
	migration, graftWrote := owner(filepath.Join(dir, KustomizationFile))
	switch {
	case graftWrote && migration != m.Metadata.Name:
		return fmt.Errorf("%w: %s %s is the overlay of migration %q, not %q; graft never replaces another migration's overlay, --force or not: choose another --out or spec.gitops.overlayPath",
			ErrInvalid, outField, termtext.Value(dir), migration, m.Metadata.Name)
	case !graftWrote && !force:
		return fmt.Errorf("%w: %s %s exists and was not written by graft (its kustomization.yaml does not start with %q); choose another --out, or pass --force to replace it", ErrInvalid, outField, termtext.Value(dir), Marker)
	}
	// Replacing dir deletes everything under it: nothing there may be a
	// repository or another migration's overlay.
	n := 0
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: %s %s: %s", ErrInvalid, outField, termtext.Value(dir), termtext.Line(err.Error()))
		}
		if n++; n > maxReplaced {
			return fmt.Errorf("%w: %s %s holds more than %d files; that is not an overlay, graft does not replace it: choose another --out", ErrInvalid, outField, termtext.Value(dir), maxReplaced)
		}
		if p == dir {
			return nil
		}
		if spec.InGitDir(d.Name()) || (d.IsDir() && isGitDir(p)) {
			return fmt.Errorf("%w: %s %s holds a git repository (%s); graft never replaces it: choose another --out", ErrInvalid, outField, termtext.Value(dir), termtext.Value(p))
		}
		if d.Name() == KustomizationFile {
			if o, ok := owner(p); ok && o != m.Metadata.Name {
				return fmt.Errorf("%w: %s %s holds the overlay of migration %q (%s); graft never replaces another migration's overlay: choose another --out", ErrInvalid, outField, termtext.Value(dir), o, termtext.Value(filepath.Dir(p)))
			}
		}
		if d.Name() == record.DefaultFile && !d.IsDir() {
			// A record is the only list of the volumes a clone created:
			// only this migration's own may go with its overlay.
			rec, err := record.Load(p)
			switch {
			case err != nil:
				return fmt.Errorf("%w: %s %s holds %s, which is not a record graft can read (%s); graft does not delete it: choose another --out", ErrInvalid, outField, termtext.Value(dir), termtext.Value(p), termtext.Line(err.Error()))
			case rec.Migration != m.Metadata.Name:
				return fmt.Errorf("%w: %s %s holds the record of migration %q (%s); graft never deletes another migration's record: choose another --out", ErrInvalid, outField, termtext.Value(dir), rec.Migration, termtext.Value(p))
			}
		}
		return nil
	})
}

// owner reads the migration named by graft's marker on the first line of
// a kustomization.yaml; ok is false when graft did not write it. A marker
// without a name (it cannot be told whose it is) is not graft's.
//
// Only a regular file is read, and only its first line up to maxMarkerLine
// bytes: a kustomization.yaml that is a FIFO, or a link to /dev/zero, is
// not graft's (reading it would block, or never end).
func owner(kustomization string) (name string, ok bool) {
	if fi, err := os.Stat(kustomization); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	f, err := os.OpenFile(kustomization, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, maxMarkerLine)).ReadString('\n')
	rest, ok := strings.CutPrefix(line, Marker+" Migration ")
	if !ok {
		return "", false
	}
	name, _, ok = strings.Cut(rest, ":")
	return name, ok && name != ""
}

// maxMarkerLine bounds the marker line owner reads: the marker, a
// migration name (a DNS-1123 subdomain, at most 253 bytes) and the advice.
const maxMarkerLine = 1024

// ownerLine is the marker line that names the migration.
func ownerLine(migration string) string {
	return Marker + " Migration " + migration + ": edit graft.yaml and run graft render again instead of editing this directory.\n"
}

// realPath is path made absolute with every symlink in its existing part
// resolved; the part that does not exist yet is appended as it is.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			r, err := filepath.EvalSymlinks(d)
			if err != nil {
				return "", err
			}
			for i := len(rest) - 1; i >= 0; i-- {
				r = filepath.Join(r, rest[i])
			}
			return r, nil
		}
		if filepath.Dir(d) == d {
			return abs, nil
		}
		rest = append(rest, filepath.Base(d))
	}
}

// within reports whether p is dir or lies inside it (both absolute, clean).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// isGitDir reports whether dir is a git directory: named .git (as git
// tells it, spec.InGitDir), or a bare repository (HEAD, objects and refs).
func isGitDir(dir string) bool {
	if spec.InGitDir(filepath.Base(dir)) {
		return true
	}
	head, err := os.Stat(filepath.Join(dir, "HEAD"))
	if err != nil || head.IsDir() {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// workTree is the nearest directory from dir up that holds a .git (a
// directory, or the file of a linked work tree); "" if none.
func workTree(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// checkKeep refuses an output directory that is or holds one of the files
// to keep: replacing it would delete them.
func checkKeep(outDir string, keep []string) error {
	out, err := realPath(outDir)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %s", ErrInvalid, outField, termtext.Value(outDir), termtext.Line(err.Error()))
	}
	for _, k := range keep {
		if k == "" {
			continue
		}
		p, err := realPath(k)
		if err != nil {
			return err
		}
		if within(p, out) {
			return fmt.Errorf("%w: %s %s holds %s; replacing the directory would delete it: choose another --out", ErrInvalid, outField, termtext.Value(outDir), termtext.Value(k))
		}
	}
	return nil
}
