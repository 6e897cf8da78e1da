package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/resmap"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// readBase builds the kustomize base and indexes its StatefulSets and their
// claim templates.
func readBase(dir string) (map[string]baseStatefulSet, error) {
	resources, err := buildBase(dir)
	if err != nil {
		return nil, err
	}
	return indexStatefulSets(resources)
}

// buildBase builds the kustomize base at dir.
func buildBase(dir string) (resmap.ResMap, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: spec.gitops.base: %s is not a directory; expected the kustomize base, relative to the overlay directory", ErrInvalid, termtext.Value(dir))
	}
	resources, err := build(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: spec.gitops.base: %s does not build: %s", ErrInvalid, termtext.Value(dir), termtext.Line(err.Error()))
	}
	return resources, nil
}

// indexStatefulSets indexes the StatefulSets of a built base and their
// claim templates.
func indexStatefulSets(resources resmap.ResMap) (map[string]baseStatefulSet, error) {
	out := map[string]baseStatefulSet{}
	for _, res := range resources.Resources() {
		if res.GetKind() != "StatefulSet" {
			continue
		}
		data, err := res.MarshalJSON()
		if err != nil {
			return nil, err
		}
		var sts appsv1.StatefulSet
		if err := json.Unmarshal(data, &sts); err != nil {
			return nil, fmt.Errorf("%w: base StatefulSet %s: %s", ErrInvalid, termtext.Value(res.GetName()), termtext.Line(err.Error()))
		}
		b := baseStatefulSet{name: sts.Name, templates: map[string]claimTemplate{}, replicas: 1}
		if sts.Spec.Replicas != nil {
			b.replicas = int(*sts.Spec.Replicas)
		}
		if sts.Spec.Ordinals != nil {
			b.ordinalsStart = int(sts.Spec.Ordinals.Start)
		}
		if w, ok := sts.Annotations[ArgoSyncWaveAnnotation]; ok {
			if b.wave, err = strconv.Atoi(w); err != nil {
				return nil, fmt.Errorf("%w: base StatefulSet %s: annotation %s: %q, expected an integer", ErrInvalid, termtext.Value(sts.Name), ArgoSyncWaveAnnotation, w)
			}
		}
		for i, t := range sts.Spec.VolumeClaimTemplates {
			b.templates[t.Name] = newClaimTemplate(i, t.Spec)
		}
		out[sts.Name] = b
	}
	return out, nil
}

// ensureDir creates dir if needed and returns a function that removes what
// it created: each directory it made, deepest first, and only while it is
// empty (something else may have put a file there meanwhile).
func ensureDir(dir string) (func(), error) {
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("render: %w", termtext.Error(err))
	}
	return func() {
		for _, d := range made {
			if os.Remove(d) != nil { // not empty: it and its parents stay
				return
			}
		}
	}, nil
}

// buildPrefix names the sibling directory an overlay is built in.
const buildPrefix = ".graft-render-"

// removeStaleBuilds removes the build directories a render killed with
// SIGKILL (or a crash) left in parent: a copy of the overlay that a
// `git add -A` would commit beside it. A directory of that name is graft's
// only if it holds nothing but regular files named as this overlay's files
// are, its kustomization.yaml with this migration's marker (another
// migration's render may be building beside it, under its own lock);
// anything else is left as it is.
func removeStaleBuilds(m *spec.Migration, parent string, files map[string][]byte, keep []string, log *slog.Logger) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), buildPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if isEmptyDir(dir) {
			// Killed before it wrote anything: nothing in it to tell
			// whose it is, and nothing to lose. A live render holds its
			// directory from a moment after making it: one made less
			// than staleBuild ago may be that.
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < staleBuild {
				continue
			}
			if held, free, err := lock.TryDir(dir); err == nil && free {
				_ = os.Remove(dir)
				held.Release()
			}
			continue
		}
		if o, ok := owner(filepath.Join(dir, KustomizationFile)); !onlyFiles(dir, files) || !ok || o != m.Metadata.Name {
			continue
		}
		if checkKeep(dir, keep) != nil { // the record given by --lock, say
			continue
		}
		// A live render holds its build directory (lock.TryDir): only
		// one whose lock is free was left by a render that was killed.
		held, free, err := lock.TryDir(dir)
		if err != nil || !free {
			continue
		}
		if err := os.RemoveAll(dir); err == nil && log != nil {
			log.Warn("removed the build directory of a render that was killed", "dir", dir)
		}
		held.Release()
	}
}

// staleBuild is how old an empty build directory must be to be taken for
// a killed render's.
const staleBuild = 10 * time.Second

// isEmptyDir reports whether dir is a directory with nothing in it.
func isEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && errors.Is(err, io.EOF)
}

// recoverDir finishes what an interrupted atomic.ReplaceDir left at dst
// (atomic.RecoverDir): the previous overlay set aside and no new one in its
// place is moved back; a leftover copy beside a complete overlay is removed.
//
// The aside directory is graft's only by its name, which anyone can give a
// directory: graft moves or deletes it only if it is a directory (not a
// symlink) holding this migration's overlay (its marker names the
// migration) and passes every rule of the output directory itself
// (checkOutDir, checkKeep). Anything else there is refused, --force or
// not: the user never named that directory.
func recoverDir(m *spec.Migration, dst string, keep []string) error {
	notOurs := func(old string, dstMissing bool) error {
		hint := "remove or rename it"
		if dstMissing {
			hint = fmt.Sprintf("if an interrupted graft render set the previous content of %s aside there, move it back (mv %s %s); otherwise remove or rename it", termtext.Value(dst), termtext.Value(old), termtext.Value(dst))
		}
		return fmt.Errorf("%w: %s exists beside the %s %s and is not an overlay of migration %q that graft set aside (graft sets the previous overlay aside under that name while it replaces it); graft moves or deletes nothing it did not set aside, --force or not: %s",
			ErrInvalid, termtext.Value(old), outField, termtext.Value(dst), m.Metadata.Name, hint)
	}
	old := atomic.Aside(dst)
	fi, err := os.Lstat(old)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %s: %s", ErrInvalid, termtext.Value(old), termtext.Line(err.Error()))
	case !fi.IsDir(): // atomic.RecoverDir refuses it too, in its words
		_, err := os.Lstat(dst)
		return notOurs(old, errors.Is(err, os.ErrNotExist))
	}
	err = atomic.RecoverDir(dst, func(old string, dstMissing bool) error {
		if o, ok := owner(filepath.Join(old, KustomizationFile)); !ok || o != m.Metadata.Name {
			return notOurs(old, dstMissing)
		}
		baseDir := filepath.Join(old, filepath.FromSlash(m.Spec.GitOps.Base))
		if err := checkOutDir(m, old, baseDir, false, false); err != nil {
			return fmt.Errorf("%s, where graft sets the previous overlay aside: %w", termtext.Value(old), err)
		}
		if err := checkKeep(old, keep); err != nil {
			return fmt.Errorf("%s, where graft sets the previous overlay aside: %w", termtext.Value(old), err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrInvalid) {
		return fmt.Errorf("render: %w", termtext.Error(err))
	}
	return err
}

// onlyFiles reports whether dir holds nothing but regular files named as
// files names them (relative slash paths) and the directories that hold
// them (a split overlay's roots).
func onlyFiles(dir string, files map[string][]byte) bool {
	dirs := map[string]bool{}
	for name := range files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > len(files)+len(dirs)+1 {
			return fs.SkipAll
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := files[rel]; (ok && d.Type().IsRegular()) || (dirs[rel] && d.IsDir()) {
			return nil
		}
		return errNotOurs
	})
	return err == nil && n <= len(files)+len(dirs)+1
}

// errNotOurs stops onlyFiles at an entry render would not have written.
var errNotOurs = errors.New("not a file of the overlay")

// newClaimTemplate is what render needs of the claim spec of template i:
// its access modes (default ReadWriteOnce), volume mode (default
// Filesystem), request, and whether it has a selector.
func newClaimTemplate(i int, spec corev1.PersistentVolumeClaimSpec) claimTemplate {
	ct := claimTemplate{
		index:       i,
		hasSelector: spec.Selector != nil,
		accessModes: spec.AccessModes,
		volumeMode:  corev1.PersistentVolumeFilesystem,
	}
	if len(ct.accessModes) == 0 {
		ct.accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	if spec.VolumeMode != nil {
		ct.volumeMode = *spec.VolumeMode
	}
	ct.request = spec.Resources.Requests[corev1.ResourceStorage]
	return ct
}
