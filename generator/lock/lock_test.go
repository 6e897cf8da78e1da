package lock

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/termtext/termtexttest"
	"github.com/graftctl/graft/internal/testkit"
)

// must is the shared testkit.Must.
var must = testkit.Must

func TestHeldIsRefusedAndNamesTheHolder(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "graft.lock"))
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	l, err := Acquire(path, Holder{Migration: "m1", Command: "clone", Since: since})
	must(t, err)
	if l.Stale != nil {
		t.Errorf("a fresh lock reports a stale holder %v", l.Stale)
	}
	// flock is per open file: a second Acquire in this process conflicts
	// as another process would.
	_, err = Acquire(path, Holder{Migration: "m1", Command: "render"})
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}
	host, _ := os.Hostname()
	want := "migration m1 is locked by graft clone (pid " + itoa(os.Getpid()) + " on host " + host + ", since 2026-12-01T10:00:00Z); wait for it to finish"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("refusal %q\nlacks %q", err, want)
	}
	must(t, l.Release())
	must(t, l.Release()) // twice is harmless
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Release left %s (%v)", path, err)
	}
	l2, err := Acquire(path, Holder{Command: "render"})
	must(t, err)
	if l2.Stale != nil {
		t.Errorf("after a clean release, a stale holder %v", l2.Stale)
	}
	must(t, l2.Release())
}

// TestRefusalWaitsForTheHolderToWriteItsName: a command refused between
// the holder's flock and its writing its name waits a moment and names
// it, instead of "it has not written its name yet".
func TestRefusalWaitsForTheHolderToWriteItsName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graft.lock.flock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if held, err := flock(f); err != nil || !held {
		t.Fatalf("flock: %v %v", held, err)
	}
	holder := Holder{Migration: "m", Command: "clone", PID: os.Getpid(), Host: hostname(), Since: time.Now()}
	go func() {
		time.Sleep(150 * time.Millisecond)
		data, _ := json.Marshal(holder)
		_, _ = f.WriteAt(data, 0)
	}()
	_, err = Acquire(path, Holder{Migration: "m", Command: "render", PID: os.Getpid() + 1, Host: hostname(), Since: time.Now()})
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "locked by graft clone (pid") {
		t.Errorf("refusal %v, want it to name the holder", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func writeHolder(t *testing.T, path string, h Holder) {
	t.Helper()
	data, err := json.Marshal(h)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o644))
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	must(t, cmd.Run())
	return cmd.Process.Pid
}

// A holder killed on this host left its file, but the kernel released its
// flock: the next Acquire succeeds and reports it.
func TestStaleOnThisHost(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "graft.lock"))
	host, _ := os.Hostname()
	writeHolder(t, path, Holder{Command: "clone", PID: deadPID(t), Host: host, Since: time.Now()})
	l, err := Acquire(path, Holder{Command: "clone"})
	must(t, err)
	defer l.Release()
	if l.Stale == nil || l.Stale.Command != "clone" {
		t.Fatalf("Stale = %v, want the killed clone", l.Stale)
	}
	data, err := os.ReadFile(path)
	must(t, err)
	if !strings.Contains(string(data), `"pid":`+itoa(os.Getpid())) {
		t.Errorf("the lock file does not name the new holder: %s", data)
	}
}

// A file left by another host cannot be verified from here: refused, and
// the user is told how to clear it.
func TestStaleFromAnotherHost(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "graft.lock"))
	writeHolder(t, path, Holder{Command: "run", PID: 4242, Host: "build-7.example", Since: time.Now()})
	_, err := Acquire(path, Holder{Command: "clone"})
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire: %v, want ErrHeld", err)
	}
	for _, want := range []string{"graft run (pid 4242 on host build-7.example", "cannot verify", "remove " + path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the refused Acquire removed the other host's file: %v", err)
	}
}

// The lock is held, but the process it names is gone (a child it started
// kept the file open): say so, and how to find the holder.
func TestHeldByAnOrphan(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "graft.lock"))
	l, err := Acquire(path, Holder{Command: "clone"})
	must(t, err)
	defer l.Release()
	host, _ := os.Hostname()
	writeHolder(t, path, Holder{Command: "clone", PID: deadPID(t), Host: host, Since: time.Now()})
	_, err = Acquire(path, Holder{Command: "render"})
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "no longer running") || !strings.Contains(err.Error(), "fuser "+path) {
		t.Errorf("refusal: %v", err)
	}
}

// A lock file replaced while it was being opened (its holder released it
// and another took it) is never shared: the two locks are never both held.
func TestReleaseRace(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "graft.lock"))
	for range 200 {
		a, err := Acquire(path, Holder{Command: "a"})
		must(t, err)
		done := make(chan *Lock)
		go func() {
			b, _ := Acquire(path, Holder{Command: "b"})
			done <- b
		}()
		must(t, a.Release())
		b := <-done
		if b != nil {
			// b holds the lock: nobody else may.
			if c, err := Acquire(path, Holder{Command: "c"}); err == nil {
				c.Release()
				b.Release()
				t.Fatal("two holders at once after a release race")
			}
			must(t, b.Release())
		}
	}
}

// TestLockFileIsGraftsOwn: graft truncates and rewrites its lock file, so
// it never takes one that is a symlink (to graft.lock, say), a second name
// of another file, a FIFO (opening it would block) or a directory; the
// file that is there is left as it was.
func TestLockFileIsGraftsOwn(t *testing.T) {
	const record = "apiVersion: graft.graftctl.io/v1alpha1\nkind: Lock\nmigration: m1\n"
	cases := []struct {
		name    string
		setup   func(t *testing.T, dir, path string)
		wantErr string
	}{
		{"a symlink to the record", func(t *testing.T, dir, path string) {
			must(t, os.Symlink("graft.lock", path))
		}, "is a symlink; graft keeps its lock only in a regular file of its own"},
		{"a dangling symlink", func(t *testing.T, dir, path string) {
			must(t, os.Symlink("elsewhere", path))
		}, "is a symlink"},
		{"a hard link of the record", func(t *testing.T, dir, path string) {
			must(t, os.Link(filepath.Join(dir, "graft.lock"), path))
		}, "has 2 names (a hard link"},
		{"a FIFO", func(t *testing.T, dir, path string) {
			testkit.Mkfifo(t, path)
		}, "is not a regular file"},
		{"a directory", func(t *testing.T, dir, path string) {
			must(t, os.Mkdir(path, 0o755))
		}, "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(dir, "graft.lock"), []byte(record), 0o644))
			path := filepath.Join(dir, "graft.lock"+Suffix)
			c.setup(t, dir, path)
			done := make(chan error, 1)
			go func() {
				l, err := Acquire(path, Holder{Migration: "m1", Command: "clone"})
				if err == nil {
					l.Release()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Acquire blocks")
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Acquire: %v, want an error containing %q", err, c.wantErr)
			}
			data, rerr := os.ReadFile(filepath.Join(dir, "graft.lock"))
			must(t, rerr)
			if string(data) != record {
				t.Errorf("graft.lock was changed to %q", data)
			}
			if _, err := os.Stat(filepath.Join(dir, "elsewhere")); !os.IsNotExist(err) {
				t.Errorf("a file was created through the symlink (%v)", err)
			}
		})
	}
}

// TestPathIsOneForEveryNameOfTheRecord: a record reached through a symlink,
// or through a symlinked directory, has the one lock of its real file.
func TestPathIsOneForEveryNameOfTheRecord(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "m", "graft.lock")
	testkit.WriteFile(t, real, "kind: Lock\n")
	must(t, os.Symlink("m/graft.lock", filepath.Join(dir, "link.lock")))
	must(t, os.Symlink("m", filepath.Join(dir, "mlink")))
	names := []string{
		real,
		filepath.Join(dir, "link.lock"),
		filepath.Join(dir, "mlink", "graft.lock"),
		filepath.Join(dir, "m", ".", "graft.lock"),
	}
	l, err := Acquire(Path(names[0]), Holder{Migration: "m1", Command: "clone"})
	must(t, err)
	defer l.Release()
	for _, n := range names[1:] {
		if _, err := Acquire(Path(n), Holder{Migration: "m1", Command: "clone"}); !errors.Is(err, ErrHeld) {
			t.Errorf("record %s: Acquire(%s) = %v while the lock of %s is held, want ErrHeld", n, Path(n), err, real)
		}
	}
	// A record not written yet: its directory's symlinks are resolved.
	fresh := Path(filepath.Join(dir, "mlink", "new.lock"))
	if want := filepath.Join(dir, "m", "new.lock") + Suffix; fresh != want {
		t.Errorf("Path of a new record through a symlinked directory = %s, want %s", fresh, want)
	}
}

// TestAcquireMissingDirectory: a record in a directory that does not exist
// (a mistyped --lock) is named, with what was expected.
func TestAcquireMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	_, err := Acquire(filepath.Join(dir, "graft.lock"+Suffix), Holder{Command: "render"})
	if err == nil || !strings.Contains(err.Error(), "the directory "+dir+" does not exist; expected an existing directory") {
		t.Errorf("Acquire in a missing directory: %v", err)
	}
}

// TestHolderIsOneLine: a lock file's command and host, whoever wrote
// them, are named on one line with nothing a terminal acts on.
func TestHolderIsOneLine(t *testing.T) {
	h := Holder{Command: "clone " + termtexttest.Hostile, PID: 7, Host: termtexttest.Hostile, Since: time.Unix(0, 0)}
	termtexttest.Check(t, "holder", h.String()+"\n", 1)
}
