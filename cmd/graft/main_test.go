package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/internal/testkit"
)

// graft runs the CLI in-process and returns its exit code, stdout and stderr.
func graft(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "Commands:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"version", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--bogus", "version"}, "unknown flag: --bogus"},
		{[]string{"version", "-o", "json"}, `-o/--output: "json" is not accepted`},
		{[]string{"version", "--log-level", "loud"}, `--log-level: "loud" is not a level`},
		{[]string{"version", "extra"}, "version takes no arguments"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		// A near miss names what was most likely meant.
		{[]string{"rendr"}, `graft: unknown command "rendr"; did you mean "render"?`},
		{[]string{"help", "preflght"}, `unknown command "preflght"; did you mean "preflight"?`},
		{[]string{"render", "--dryrun"}, `graft render: unknown flag: --dryrun; did you mean --dry-run?`},
		{[]string{"--log-levl", "debug", "version"}, `graft: unknown flag: --log-levl; did you mean --log-level?`},
	}
	for _, c := range cases {
		code, stdout, stderr := graft(t, c.args...)
		if code != exitError {
			t.Errorf("graft %v: exit %d, want %d", c.args, code, exitError)
		}
		if !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("graft %v: output %q lacks %q", c.args, stdout+stderr, c.want)
		}
	}
}

// TestArgumentsRefusedFirst: every command but check takes no arguments,
// and says so before it locks, reads or writes anything.
func TestArgumentsRefusedFirst(t *testing.T) {
	for _, c := range commands() {
		if c.takesPaths {
			continue
		}
		dir := t.TempDir()
		code, _, stderr := graft(t, c.name, "--spec", filepath.Join(dir, "graft.yaml"), "stray")
		if code != exitError || !strings.Contains(stderr, c.name+` takes no arguments, got ["stray"]`) {
			t.Errorf("graft %s stray: exit %d, %q", c.name, code, stderr)
		}
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Errorf("graft %s stray left %v behind", c.name, left)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, _ := graft(t, "help")
	if code != exitOK || !strings.Contains(stdout, "render") || !strings.Contains(stdout, "Exit codes") {
		t.Errorf("graft help: %d %q", code, stdout)
	}
	for _, c := range commands() {
		code, stdout, stderr := graft(t, "help", c.name)
		if code != exitOK || !strings.Contains(stdout, "graft "+c.name) {
			t.Errorf("graft help %s: %d %q %q", c.name, code, stdout, stderr)
		}
		code, stdout2, _ := graft(t, c.name, "--help")
		if code != exitOK || stdout2 != stdout {
			t.Errorf("graft %s --help differs from graft help %s", c.name, c.name)
		}
	}
	code, stdout, _ = graft(t, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "graft ") {
		t.Errorf("graft version: %d %q", code, stdout)
	}
}

func TestInit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graft.yaml")
	if code, _, stderr := graft(t, "init", "--spec", path); code != exitOK {
		t.Fatalf("init: %d %s", code, stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(data, []byte("kind: Migration")) {
		t.Fatalf("init wrote %q (%v)", data, err)
	}
	code, _, stderr := graft(t, "--spec", path, "init")
	if code != exitError || !strings.Contains(stderr, "already exists") {
		t.Errorf("second init: %d %s", code, stderr)
	}
}

// exampleTree copies an example spec and record into a temp GitOps-like
// tree with the base at base/, and returns the spec path.
func exampleTree(t *testing.T, name string) (root, specPath string) {
	t.Helper()
	root = t.TempDir()
	src := filepath.Join("..", "..", "testdata", "examples", name)
	data, err := os.ReadFile(filepath.Join(src, "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("../../testdata/bases/cassandra-single"), []byte("../../base"), 1)
	specPath = filepath.Join(root, "graft.yaml")
	must(t, os.WriteFile(specPath, data, 0o644))
	lock, err := os.ReadFile(filepath.Join(src, "graft.lock"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(root, "graft.lock"), lock, 0o644))
	testkit.CopyDir(t, filepath.Join("..", "..", "testdata", "bases", "cassandra-single"), filepath.Join(root, "base"))
	return root, specPath
}

// must is the shared testkit.Must.
var must = testkit.Must

func TestRender(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	code, stdout, stderr := graft(t, "render", "--spec", specPath, "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "kind: PersistentVolumeClaim") {
		t.Fatalf("render --dry-run: %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "overlays")); !os.IsNotExist(err) {
		t.Fatalf("--dry-run wrote overlays/ (%v)", err)
	}
	code, stdout, stderr = graft(t, "render", "--spec", specPath)
	if code != exitOK || stdout != "" {
		t.Fatalf("render: %d stdout %q stderr %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "overlays", "cassandra-3node", "kustomization.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestRenderBadInput: every bad input exits 2 with a message naming the
// problem, and writes nothing.
func TestRenderBadInput(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, root, specPath string)
		want  string
	}{
		{"malformed YAML", func(t *testing.T, root, specPath string) {
			must(t, os.WriteFile(specPath, []byte("apiVersion: [\n"), 0o644))
		}, "invalid migration spec"},
		{"unknown field", func(t *testing.T, root, specPath string) {
			replaceIn(t, specPath, "  target:\n", "  target:\n    namspace: x\n")
		}, "field namspace is not a field of Target"},
		{"duplicate ordinal", func(t *testing.T, root, specPath string) {
			replaceIn(t, specPath, "    tagRegex:\n      tag: Name\n      pattern: '^cassandra-(?P<ordinal>[0-9]+)$'\n",
				"    table:\n      - {instance: i-0123456789abcdef0, statefulSet: cassandra, ordinal: 0}\n      - {instance: i-0123456789abcdef1, statefulSet: cassandra, ordinal: 0}\n      - {instance: i-0123456789abcdef2, statefulSet: cassandra, ordinal: 2}\n")
		}, "expected an ordinal not already taken"},
		{"zone not in region", func(t *testing.T, root, specPath string) {
			replaceIn(t, specPath, "        replicas: 3\n", "        replicas: 3\n        zone: eu-west-1a\n")
		}, `zone: "eu-west-1a", expected a zone of the target region us-east-1`},
		{"missing base", func(t *testing.T, root, specPath string) {
			must(t, os.RemoveAll(filepath.Join(root, "base")))
		}, "spec.gitops.base"},
		{"corrupt record", func(t *testing.T, root, specPath string) {
			must(t, os.WriteFile(filepath.Join(root, "graft.lock"), []byte("volumes: [\n"), 0o644))
		}, "invalid graft.lock"},
		{"output directory graft did not create", func(t *testing.T, root, specPath string) {
			dir := filepath.Join(root, "overlays", "cassandra-3node")
			must(t, os.MkdirAll(dir, 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "README"), []byte("mine"), 0o644))
		}, "was not written by graft"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, specPath := exampleTree(t, "cassandra-3node")
			c.setup(t, root, specPath)
			wantRenderRefused(t, root, c.want, "--spec", specPath)
		})
	}
}

// wantRenderRefused runs graft render with args and wants exit 2, no
// stdout, want (%ROOT% stands for root) on stderr, and nothing written
// under root.
func wantRenderRefused(t *testing.T, root, want string, args ...string) {
	t.Helper()
	before := listTree(t, root)
	code, stdout, stderr := graft(t, append([]string{"render"}, args...)...)
	if want := strings.ReplaceAll(want, "%ROOT%", root); code != exitError || stdout != "" || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, want)
	}
	if after := listTree(t, root); after != before {
		t.Errorf("render wrote something:\n%s\n%s", before, after)
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%q not in %s", old, path)
	}
	must(t, os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644))
}

func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	must(t, filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + "\n")
		return nil
	}))
	return b.String()
}

// TestRenderOutRefused: render never writes over the base, another
// migration's overlay or into .git, with or without --force: exit 2, the
// field named, nothing written.
func TestRenderOutRefused(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, root, specPath string) []string
		want  string
	}{
		{"--out the base --force", func(t *testing.T, root, specPath string) []string {
			replaceIn(t, specPath, "../../base", "../../base/cassandra")
			must(t, os.Rename(filepath.Join(root, "base"), filepath.Join(root, "cassandra")))
			must(t, os.MkdirAll(filepath.Join(root, "base"), 0o755))
			must(t, os.Rename(filepath.Join(root, "cassandra"), filepath.Join(root, "base", "cassandra")))
			return []string{"--out", filepath.Join(root, "base", "cassandra"), "--force"}
		}, "is the kustomize base"},
		{"--out another migration's overlay", func(t *testing.T, root, specPath string) []string {
			other := filepath.Join(root, "other.yaml")
			data, err := os.ReadFile(specPath)
			must(t, err)
			must(t, os.WriteFile(other, bytes.Replace(data, []byte("name: cassandra-3node"), []byte("name: other"), 1), 0o644))
			lock, err := os.ReadFile(filepath.Join(root, "graft.lock"))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(root, "other.lock"), bytes.Replace(lock, []byte("migration: cassandra-3node"), []byte("migration: other"), 1), 0o644))
			out := filepath.Join(root, "overlays", "other")
			if code, _, stderr := graft(t, "render", "--spec", other, "--lock", filepath.Join(root, "other.lock"), "--out", out); code != exitOK {
				t.Fatalf("render other: %d %s", code, stderr)
			}
			return []string{"--out", out}
		}, `is the overlay of migration "other", not "cassandra-3node"`},
		{"--out the migration's own directory --force", func(t *testing.T, root, specPath string) []string {
			// The spec and the record in m/, the base beside it: --out m
			// would delete them.
			replaceIn(t, specPath, "../../base", "../base")
			replaceIn(t, specPath, "overlayPath: overlays/cassandra-3node", "overlayPath: x")
			must(t, os.Mkdir(filepath.Join(root, "m"), 0o755))
			for _, f := range []string{"graft.yaml", "graft.lock"} {
				must(t, os.Rename(filepath.Join(root, f), filepath.Join(root, "m", f)))
			}
			return []string{"--spec", filepath.Join(root, "m", "graft.yaml"), "--out", filepath.Join(root, "m"), "--force"}
		}, "holds " + "%ROOT%/m/graft.yaml; replacing the directory would delete it"},
		{"overlayPath in .git", func(t *testing.T, root, specPath string) []string {
			replaceIn(t, specPath, "overlayPath: overlays/cassandra-3node", "overlayPath: .git/hooks/x")
			return nil
		}, `spec.gitops.overlayPath: ".git/hooks/x", expected a directory outside .git`},
		{"--out in .git", func(t *testing.T, root, specPath string) []string {
			must(t, os.MkdirAll(filepath.Join(root, ".git", "hooks"), 0o755))
			return []string{"--out", filepath.Join(root, ".git", "hooks"), "--force"}
		}, "lies in the git directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, specPath := exampleTree(t, "cassandra-3node")
			root, _ = filepath.EvalSymlinks(root)
			specPath = filepath.Join(root, "graft.yaml")
			args := c.setup(t, root, specPath)
			if !slices.Contains(args, "--spec") { // a flag is given once
				args = append([]string{"--spec", specPath}, args...)
			}
			wantRenderRefused(t, root, c.want, args...)
		})
	}
}

// TestEmptyFlagValuesRefused: a string flag given an empty value (an unset
// shell variable: --out "$OUT") is a usage error naming the flag, for
// every flag of every command, before anything is read or written; it
// never silently means the flag's default.
func TestEmptyFlagValuesRefused(t *testing.T) {
	for _, c := range commands() {
		var g globals
		fs, _, _ := commandFlags(c, &g)
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "string" {
				return
			}
			dir := t.TempDir()
			args := []string{c.name, "--spec", filepath.Join(dir, "graft.yaml"), "--" + f.Name + "="}
			if f.Name == "spec" {
				args = []string{c.name, "--spec="}
			}
			code, stdout, stderr := graft(t, args...)
			want := "graft " + c.name + ": --" + f.Name + ": an empty value, expected "
			if code != exitError || !strings.Contains(stderr, want) || stdout != "" {
				t.Errorf("graft %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, stdout, stderr, want)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("graft %v left %v behind", args, left)
			}
		})
	}
}

// TestSpecOrLockADirectory: --spec or --lock naming a directory is bad
// input that says what it is and what the flag takes, not a bare "read .:
// is a directory".
func TestSpecOrLockADirectory(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"render", "--spec", root}, root + ": not a regular file (a directory); expected a file; the spec is one YAML file (--spec FILE, default graft.yaml)"},
		{[]string{"iam-policy", "--spec", root}, "the spec is one YAML file (--spec FILE"},
		{[]string{"render", "--spec", specPath, "--lock", root, "--dry-run"}, root + ": not a regular file (a directory); expected a file; the record is one file (--lock FILE, default graft.lock beside the spec)"},
	}
	for _, c := range cases {
		code, stdout, stderr := graft(t, c.args...)
		if code != exitError || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("graft %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

// fullWriter fails every write, as stdout on a full disk does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestStdoutWriteFailureExits2: a command whose data cannot be written to
// stdout does not exit 0 as if the user had it; a command that reports
// the failure itself says it once.
func TestStdoutWriteFailureExits2(t *testing.T) {
	_, specPath := exampleTree(t, "cassandra-3node")
	for _, args := range [][]string{
		{"version"}, {"help"}, {"help", "render"}, {"render", "--help"}, {"--help"},
		{"iam-policy", "--spec", specPath}, {"check", "--print-workflow"},
		{"render", "--spec", specPath, "--dry-run"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), fullWriter{}, &stderr)
		if code != exitError || strings.Count(stderr.String(), "no space left on device") != 1 {
			t.Errorf("graft %v to a full stdout: exit %d, stderr %q; want exit 2 and the failure once", args, code, stderr.String())
		}
	}
}

// TestSpecOnAPipe: a spec given on a pipe (--spec <(…), /dev/stdin) is
// read once per command: the migration lock and the command read the same
// bytes, and the second read does not find the pipe empty (or wait for a
// writer that never comes).
func TestSpecOnAPipe(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	data, err := os.ReadFile(specPath)
	must(t, err)
	fifo := filepath.Join(t.TempDir(), "spec.fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	go func() { // one writer, once, as a shell's <(cat graft.yaml)
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			_, _ = f.Write(data)
			f.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	out := filepath.Join(root, "overlays", "from-a-pipe")
	code := run(ctx, []string{"render", "--spec", fifo, "--lock", filepath.Join(root, "graft.lock"), "--out", out}, strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("render --spec FIFO: exit %d\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "kustomization.yaml")); err != nil {
		t.Errorf("render --spec FIFO wrote no overlay: %v", err)
	}
}

// TestInitNeverReplacesADevice: graft init --force writes only a regular
// file (or through a symlink to one): a FIFO or a device at --spec (graft
// init --spec /dev/null --force, as root, replaced /dev/null with the
// example) is refused with exit 2 and left as it was.
// TestInitNeverReplacesGraftData: init --force never overwrites a record
// (the only list of the volumes a clone created) or an inventory given as
// --spec by mistake; before, graft init --spec graft.lock --force replaced
// the record with the example spec.
func TestInitNeverReplacesGraftData(t *testing.T) {
	root, _ := exampleTree(t, "cassandra-3node")
	lock := filepath.Join(root, "graft.lock")
	before, err := os.ReadFile(lock)
	must(t, err)
	code, _, stderr := graft(t, "init", "--spec", lock, "--force")
	if code != exitError || !strings.Contains(stderr, `is the record of migration "cassandra-3node"; graft init never overwrites it`) {
		t.Errorf("init --force over graft.lock: exit %d, %s", code, stderr)
	}
	if after, err := os.ReadFile(lock); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the record changed (%v)", err)
	}
	inventory := filepath.Join(root, ebs.InventoryFile)
	must(t, (&ebs.Inventory{Migration: "cassandra-3node", SourceRegion: "us-east-1"}).WriteFile(inventory))
	if code, _, stderr := graft(t, "init", "--spec", inventory, "--force"); code != exitError || !strings.Contains(stderr, `is the inventory of migration "cassandra-3node"`) {
		t.Errorf("init --force over the inventory: exit %d, %s", code, stderr)
	}
	spec := filepath.Join(root, "graft.yaml")
	if code, _, stderr := graft(t, "init", "--spec", spec, "--force"); code != exitOK {
		t.Errorf("init --force over a spec: exit %d, %s", code, stderr)
	}
}

func TestInitNeverReplacesADevice(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "graft.yaml")
	must(t, syscall.Mkfifo(fifo, 0o644))
	code, _, stderr := graft(t, "init", "--spec", fifo, "--force")
	if fi, err := os.Lstat(fifo); code != exitError || !strings.Contains(stderr, "is a FIFO; graft writes only regular files") || err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("init --force over a FIFO: exit %d, %q; the FIFO is now %v (%v)", code, stderr, fi.Mode(), err)
	}
	// Without --force, what is no file is named as such, and --force
	// (which would not help) is not offered.
	for _, p := range []string{fifo, t.TempDir()} {
		code, _, stderr := graft(t, "init", "--spec", p)
		if code != exitError || !strings.Contains(stderr, "graft writes only regular files") || strings.Contains(stderr, "--force") {
			t.Errorf("init --spec %s: exit %d, %q; want exit 2 naming what it is, and no --force", p, code, stderr)
		}
	}
}

// TestRepeatedFlagRefused: a flag given twice with different values is a
// usage error naming both (pflag keeps the last without a word), before,
// after or on both sides of the command name; the same value twice is
// harmless.
func TestRepeatedFlagRefused(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"clone", "--spec", a, "--phase", "precopy", "--phase", "final"}, `--phase: given 2 times, with "precopy" and "final"; expected it once`},
		{[]string{"--spec", a, "render", "--spec", b}, `--spec: given 2 times, with "` + a + `" and "` + b + `"`},
		{[]string{"--spec", a, "--spec", b, "render"}, `--spec: given 2 times`},
		{[]string{"-o", "json", "plan", "--spec", a, "--output", "text"}, `--output: given 2 times, with "json" and "text"`},
		{[]string{"render", "--spec", a, "--dry-run", "--dry-run=false"}, `--dry-run: given 2 times, with "true" and "false"`},
	} {
		code, stdout, stderr := graft(t, c.args...)
		if code != exitError || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("graft %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	for _, args := range [][]string{{"version", "--no-color", "--no-color"}, {"--log-level", "warn", "version", "--log-level", "warn"}} {
		if code, _, stderr := graft(t, args...); code != exitOK {
			t.Errorf("graft %v: exit %d, %q; the same value twice is harmless", args, code, stderr)
		}
	}
}
