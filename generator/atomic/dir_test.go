package atomic

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/internal/testkit"
)

// tree writes files (name → content) under dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		testkit.WriteFile(t, filepath.Join(dir, name), content)
	}
}

// content reads the regular files under dir (name → content); nil if dir
// does not exist.
func content(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func same(a, b map[string]string) bool {
	if len(a) != len(b) || a == nil != (b == nil) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

var (
	oldFiles = map[string]string{"kustomization.yaml": "old\n", "pv.yaml": "old pv\n"}
	newFiles = map[string]string{"kustomization.yaml": "new\n", "sub/pvc.yaml": "new pvc\n"}
)

func TestReplaceDir(t *testing.T) {
	for _, existing := range []bool{false, true} {
		root := t.TempDir()
		src, dst := filepath.Join(root, ".build"), filepath.Join(root, "overlay")
		tree(t, src, newFiles)
		if existing {
			tree(t, dst, oldFiles)
		}
		if err := ReplaceDir(src, dst); err != nil {
			t.Fatalf("existing=%v: %v", existing, err)
		}
		if got := content(t, dst); !same(got, newFiles) {
			t.Errorf("existing=%v: %s holds %v, want %v", existing, dst, got, newFiles)
		}
		entries, _ := os.ReadDir(root)
		if len(entries) != 1 {
			t.Errorf("existing=%v: left beside it: %v", existing, entries)
		}
	}
}

// crash makes ReplaceDir stop at the named step, as a kill would: nothing
// after it runs, no clean-up either.
type crash string

func stopAt(t *testing.T, at string) {
	t.Helper()
	step = func(s string) {
		if s == at {
			panic(crash(s))
		}
	}
	t.Cleanup(func() { step = func(string) {} })
}

func replaceCrashing(src, dst string) (crashed bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	return false, ReplaceDir(src, dst)
}

// twoRenames makes ReplaceDir swap as on a filesystem that cannot
// exchange two directories: the previous one set aside, then the new one
// put in place.
func twoRenames(t *testing.T) {
	t.Helper()
	prev := exchangeDirs
	exchangeDirs = func(string, string) error { return unsupportedExchange }
	t.Cleanup(func() { exchangeDirs = prev })
}

// TestReplaceDirCrash: killed between any two steps, ReplaceDir leaves the
// old directory or the new one after RecoverDir, never neither, and never
// a copy beside it (here where the filesystem cannot exchange two
// directories; TestReplaceDirExchange where it can).
func TestReplaceDirCrash(t *testing.T) {
	twoRenames(t)
	for _, c := range []struct {
		at   string
		want map[string]string
	}{
		{"aside", oldFiles},  // the old set aside, the new not yet in place
		{"placed", newFiles}, // the new in place, the old not yet removed
	} {
		t.Run(c.at, func(t *testing.T) {
			root := t.TempDir()
			src, dst := filepath.Join(root, ".build"), filepath.Join(root, "overlay")
			tree(t, src, newFiles)
			tree(t, dst, oldFiles)
			stopAt(t, c.at)
			if crashed, err := replaceCrashing(src, dst); !crashed {
				t.Fatalf("ReplaceDir did not reach step %q (err %v)", c.at, err)
			}
			if content(t, dst) == nil && content(t, Aside(dst)) == nil {
				t.Fatalf("after a kill at %q neither %s nor %s exists", c.at, dst, Aside(dst))
			}
			asked := 0
			if err := RecoverDir(dst, func(aside string, dstMissing bool) error {
				asked++
				if aside != Aside(dst) || dstMissing != (c.at == "aside") {
					t.Errorf("owned(%q, %v)", aside, dstMissing)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if asked != 1 {
				t.Errorf("owned was asked %d times, want 1", asked)
			}
			if got := content(t, dst); !same(got, c.want) {
				t.Errorf("after recovery %s holds %v, want %v", dst, got, c.want)
			}
			if _, err := os.Lstat(Aside(dst)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left after recovery (%v)", Aside(dst), err)
			}
		})
	}
}

// TestRecoverDirRefused: an aside copy its caller does not own is neither
// moved nor deleted; a file or symlink there is refused before owned is
// asked; with nothing aside there is nothing to do.
func TestRecoverDirRefused(t *testing.T) {
	root := t.TempDir()
	dst := filepath.Join(root, "overlay")
	if err := RecoverDir(dst, func(string, bool) error { t.Error("owned asked with nothing aside"); return nil }); err != nil {
		t.Fatal(err)
	}
	tree(t, Aside(dst), map[string]string{"data.txt": "precious\n"})
	refuse := errors.New("not ours")
	if err := RecoverDir(dst, func(string, bool) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("err %v, want the owner's refusal", err)
	}
	if got := content(t, Aside(dst)); got["data.txt"] != "precious\n" {
		t.Errorf("a refused aside copy changed: %v", got)
	}
	if content(t, dst) != nil {
		t.Error("a refused aside copy was moved into place")
	}

	for name, make := range map[string]func(p string) error{
		"file":    func(p string) error { return os.WriteFile(p, []byte("x"), 0o644) },
		"symlink": func(p string) error { tree(t, root+"/target", oldFiles); return os.Symlink(root+"/target", p) },
	} {
		dst := filepath.Join(root, name)
		if err := make(Aside(dst)); err != nil {
			t.Fatal(err)
		}
		err := RecoverDir(dst, func(string, bool) error { t.Errorf("%s: owned asked", name); return nil })
		if err == nil || !strings.Contains(err.Error(), "expected a directory") {
			t.Errorf("%s at the aside path: err %v, want a refusal", name, err)
		}
		if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s at the aside path was moved to %s", name, dst)
		}
	}
}

// TestReplaceDirRefused: a file or a symlink at the target (or as the
// source) is refused and left as it is; a symlink is never followed; so is
// anything already where the old content would be set aside.
func TestReplaceDirRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, root, src, dst string)
		want  string
	}{
		{"a file at the target", func(t *testing.T, root, src, dst string) {
			tree(t, src, newFiles)
			if err := os.WriteFile(dst, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is a file; expected a directory"},
		{"a symlink to a directory at the target", func(t *testing.T, root, src, dst string) {
			tree(t, src, newFiles)
			tree(t, filepath.Join(root, "elsewhere"), oldFiles)
			if err := os.Symlink(filepath.Join(root, "elsewhere"), dst); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink"},
		{"a symlink as the source", func(t *testing.T, root, src, dst string) {
			tree(t, filepath.Join(root, "elsewhere"), newFiles)
			if err := os.Symlink(filepath.Join(root, "elsewhere"), src); err != nil {
				t.Fatal(err)
			}
			tree(t, dst, oldFiles)
		}, "is a symlink"},
		{"something where the old content is set aside", func(t *testing.T, root, src, dst string) {
			tree(t, src, newFiles)
			tree(t, dst, oldFiles)
			if err := os.Mkdir(Aside(dst), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "expected nothing there"},
		{"the previous content set aside and nothing at the target", func(t *testing.T, root, src, dst string) {
			tree(t, src, newFiles)
			tree(t, Aside(dst), oldFiles)
		}, "expected nothing there"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			src, dst := filepath.Join(root, ".build"), filepath.Join(root, "overlay")
			c.setup(t, root, src, dst)
			before := map[string]string{}
			for _, p := range []string{dst, filepath.Join(root, "elsewhere")} {
				if fi, err := os.Lstat(p); err == nil {
					before[p] = fi.Mode().String()
				}
			}
			oldContent := content(t, filepath.Join(root, "elsewhere"))
			err := ReplaceDir(src, dst)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
			for p, mode := range before {
				if fi, err := os.Lstat(p); err != nil || fi.Mode().String() != mode {
					t.Errorf("%s changed: %v %v, was %s", p, fi, err, mode)
				}
			}
			if got := content(t, filepath.Join(root, "elsewhere")); !same(got, oldContent) {
				t.Errorf("the symlink's target changed: %v, was %v", got, oldContent)
			}
			if b, err := os.ReadFile(dst); err == nil && string(b) != "precious\n" {
				t.Errorf("the file at the target changed: %q", b)
			}
			if got := content(t, Aside(dst)); got != nil && !same(got, oldFiles) && len(got) != 0 {
				t.Errorf("what was set aside changed: %v", got)
			}
		})
	}
}

// TestReplaceDirRollback: if the new directory cannot be put in place, the
// old one is put back.
func TestReplaceDirRollback(t *testing.T) {
	twoRenames(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, ".build"), filepath.Join(root, "overlay")
	tree(t, src, newFiles)
	tree(t, dst, oldFiles)
	step = func(s string) {
		if s == "aside" {
			_ = os.RemoveAll(src) // the rename of src then fails
		}
	}
	t.Cleanup(func() { step = func(string) {} })
	if err := ReplaceDir(src, dst); err == nil {
		t.Fatal("ReplaceDir of a vanished source succeeded")
	}
	if got := content(t, dst); !same(got, oldFiles) {
		t.Errorf("%s holds %v after a failed replace, want the old %v", dst, got, oldFiles)
	}
	if _, err := os.Lstat(Aside(dst)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after the rollback", Aside(dst))
	}
}

// withUmask runs the test with the package's umask set to m.
func withUmask(t *testing.T, m os.FileMode) {
	t.Helper()
	prev := umask
	umask = m
	t.Cleanup(func() { umask = prev })
}

// TestReplaceDirMode: the directory put in place gets the permissions of
// os.Mkdir under the umask, whether it is new or replaces one (a 0700
// overlay an earlier render left is healed); never the 0700 of the
// os.MkdirTemp directory it was written in.
func TestReplaceDirMode(t *testing.T) {
	cases := []struct {
		name     string
		umask    os.FileMode
		existing os.FileMode // 0: no directory at dst
		want     os.FileMode
	}{
		{"new, umask 022", 0o022, 0, 0o755},
		{"new, umask 027", 0o027, 0, 0o750},
		{"new, umask 077", 0o077, 0, 0o700},
		{"replaces a 0700 directory", 0o022, 0o700, 0o755},
		{"replaces a 0775 directory", 0o077, 0o775, 0o700},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			withUmask(t, c.umask)
			root := t.TempDir()
			src, err := os.MkdirTemp(root, ".build-")
			if err != nil {
				t.Fatal(err)
			}
			tree(t, src, newFiles)
			dst := filepath.Join(root, "overlay")
			if c.existing != 0 {
				tree(t, dst, oldFiles)
				if err := os.Chmod(dst, c.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := ReplaceDir(src, dst); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != c.want {
				t.Errorf("%s: mode %v (%v), want %v", dst, fi.Mode().Perm(), err, c.want)
			}
		})
	}
}

// TestReplaceDirExchange: where the kernel can swap two directories,
// ReplaceDir never leaves dst missing, not even between its steps, and
// killed at any step it leaves dst whole (the old or the new), with what
// is beside it cleared by RecoverDir. Before, between setting the old
// directory aside and putting the new one in place, dst did not exist.
func TestReplaceDirExchange(t *testing.T) {
	root := t.TempDir()
	probe := filepath.Join(root, "probe")
	tree(t, probe+"-a", oldFiles)
	tree(t, probe+"-b", newFiles)
	if err := exchange(probe+"-a", probe+"-b"); exchangeUnsupported(err) {
		t.Skipf("the filesystem cannot exchange directories (%v)", err)
	}
	for _, c := range []struct {
		at   string
		want map[string]string
	}{
		{"new aside", oldFiles}, // the new set aside, the old still in place
		{"exchanged", newFiles}, // the new in place, the old aside
	} {
		t.Run(c.at, func(t *testing.T) {
			root := t.TempDir()
			src, dst := filepath.Join(root, ".build"), filepath.Join(root, "overlay")
			tree(t, src, newFiles)
			tree(t, dst, oldFiles)
			var missing []string
			step = func(s string) {
				if got := content(t, dst); !same(got, oldFiles) && !same(got, newFiles) {
					missing = append(missing, s)
				}
				if s == c.at {
					panic(crash(s))
				}
			}
			t.Cleanup(func() { step = func(string) {} })
			if crashed, err := replaceCrashing(src, dst); !crashed {
				t.Fatalf("ReplaceDir did not reach step %q (err %v)", c.at, err)
			}
			if len(missing) > 0 {
				t.Errorf("%s was not whole at steps %v", dst, missing)
			}
			if err := RecoverDir(dst, func(string, bool) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if got := content(t, dst); !same(got, c.want) {
				t.Errorf("after recovery %s holds %v, want %v", dst, got, c.want)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 1 {
				t.Errorf("left beside it: %v", entries)
			}
		})
	}
	t.Run("whole", func(t *testing.T) {
		root := t.TempDir()
		src, dst := filepath.Join(root, ".build"), filepath.Join(root, "overlay")
		tree(t, src, newFiles)
		tree(t, dst, oldFiles)
		if err := ReplaceDir(src, dst); err != nil {
			t.Fatal(err)
		}
		if got := content(t, dst); !same(got, newFiles) {
			t.Errorf("%s holds %v, want %v", dst, got, newFiles)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 1 {
			t.Errorf("left beside it: %v", entries)
		}
	})
}
