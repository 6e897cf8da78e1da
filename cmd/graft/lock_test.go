package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/internal/testkit"
)

// childEnv makes the test binary run graft itself (main's work, against a
// simulated EC2 seeded as newCLISim seeds it) instead of the tests, so that
// a test can race real graft processes.
const childEnv = "GRAFT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	east := ec2sim.New(ec2sim.Options{Region: "us-east-1"})
	_, err := east.SeedCluster(ec2sim.ClusterSpec{Name: "cassandra", Nodes: 3, Tags: map[string]string{"app": "cassandra"},
		Devices: []ec2sim.DeviceSpec{
			{Device: "/dev/xvdf", VolumeSpec: ec2sim.VolumeSpec{SizeGiB: 100, Encrypted: true}},
			{Device: "/dev/xvdg", VolumeSpec: ec2sim.VolumeSpec{SizeGiB: 20, Encrypted: true}},
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	newEC2Client = func(context.Context, *slog.Logger, string, *ebs.CallCounter) (ebs.EC2, ebs.Clock, error) {
		return east, east.Clock(), nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// graftProcess starts graft as a separate process (its own process group,
// so that a kill reaches its hooks too).
func graftProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})
	return cmd, &stderr
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("graft %v did not finish in 60 s", cmd.Args[1:])
	}
	return cmd.ProcessState.ExitCode()
}

// hookSpec is the CLI simulator's spec with a beforeFinal hook: the
// final phase's slow stage.
func hookSpec(t *testing.T, hook string) string {
	t.Helper()
	s := strings.NewReplacer("REGION", "us-east-1", "APPS", "cassandra", "ZONE", "", "TYPE", "gp3", "IOPS", "4000", "THROUGHPUT", "250").Replace(cliSpec)
	s += "  hooks:\n    beforeFinal: [sh, -c, " + fmt.Sprintf("%q", hook) + "]\n"
	path := filepath.Join(t.TempDir(), "graft.yaml")
	must(t, os.WriteFile(path, []byte(s), 0o644))
	return path
}

// TestConcurrentClonesOneProceeds races two real `graft clone --phase
// final --yes` on one migration: exactly one runs, the other is refused
// with exit 2 and told who holds the migration.
func TestConcurrentClonesOneProceeds(t *testing.T) {
	specPath := hookSpec(t, "sleep 3") // longer than the loser takes to start
	a, aErr := graftProcess(t, "clone", "--spec", specPath, "--phase", "final", "--yes")
	b, bErr := graftProcess(t, "clone", "--spec", specPath, "--phase", "final", "--yes")
	ca, cb := exitCode(t, a), exitCode(t, b)
	winner, loser, loserErr := a, b, bErr.String()
	if ca != exitOK {
		winner, loser, loserErr = b, a, aErr.String()
		ca, cb = cb, ca
	}
	if ca != exitOK || cb != exitError {
		t.Fatalf("exit codes %d and %d, want one 0 and one 2\nA: %s\nB: %s", exitCode(t, a), exitCode(t, b), aErr, bErr)
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf("migration cli is locked by graft clone (pid %d on host %s, since ", winner.Process.Pid, host)
	if !strings.Contains(loserErr, want) || !strings.Contains(loserErr, "wait for it to finish") {
		t.Errorf("the refused clone (pid %d) says:\n%s\nwant it to name the holder: %q", loser.Process.Pid, loserErr, want)
	}
	if strings.Contains(loserErr, "running beforeFinal hook") {
		t.Errorf("the refused clone ran the hook:\n%s", loserErr)
	}
	lockFile := lock.Path(filepath.Join(filepath.Dir(specPath), "graft.lock"))
	if _, err := os.Stat(lockFile); !os.IsNotExist(err) {
		t.Errorf("the lock file %s is left after both exited (%v)", lockFile, err)
	}
}

// TestKilledHolderDoesNotBlock: a clone SIGKILLed in its hook leaves its
// lock file, and the next clone proceeds (the kernel released the lock)
// and says the previous one ended without releasing it.
func TestKilledHolderDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	started, again := filepath.Join(dir, "started"), filepath.Join(dir, "again")
	specPath := hookSpec(t, fmt.Sprintf("test -e %s && exit 0; touch %s; sleep 30", again, started))
	holder, _ := graftProcess(t, "clone", "--spec", specPath, "--phase", "final", "--yes")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first clone did not reach its hook in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// While it runs, a render of the same migration is refused too.
	code, _, stderr := graft(t, "render", "--spec", specPath)
	if code != exitError || !strings.Contains(stderr, fmt.Sprintf("locked by graft clone (pid %d on host", holder.Process.Pid)) {
		t.Errorf("render during a clone: exit %d\n%s", code, stderr)
	}
	must(t, syscall.Kill(-holder.Process.Pid, syscall.SIGKILL))
	if code := exitCode(t, holder); code != -1 {
		t.Fatalf("the killed clone exited %d", code)
	}
	lockFile := lock.Path(filepath.Join(filepath.Dir(specPath), "graft.lock"))
	if _, err := os.Stat(lockFile); err != nil {
		t.Fatalf("the killed clone left no lock file: %v", err)
	}
	must(t, os.WriteFile(again, nil, 0o644))
	next, nextErr := graftProcess(t, "clone", "--spec", specPath, "--phase", "final", "--yes")
	if code := exitCode(t, next); code != exitOK {
		t.Fatalf("the clone after the killed one: exit %d\n%s", code, nextErr)
	}
	want := fmt.Sprintf("graft clone (pid %d on host", holder.Process.Pid)
	if !strings.Contains(nextErr.String(), "ended without releasing its lock") || !strings.Contains(nextErr.String(), want) {
		t.Errorf("the next clone does not say the previous one (%s) died holding the lock:\n%s", want, nextErr)
	}
}

// TestLockedCommands: every command that writes is refused while another
// holds the migration; read-only ones are not.
func TestLockedCommands(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	l, err := lock.Acquire(lock.Path(filepath.Join(root, "graft.lock")), lock.Holder{Migration: "cassandra-3node", Command: "run"})
	must(t, err)
	defer l.Release()
	for _, args := range [][]string{
		{"render"}, {"render", "--force"}, {"publish", "--repo", root}, {"clone", "--yes"}, {"run", "--yes"}, {"cleanup", "--yes"}, {"discover"},
	} {
		code, _, stderr := graft(t, append(args, "--spec", specPath)...)
		if code != exitError || !strings.Contains(stderr, "is locked by graft run (pid ") {
			t.Errorf("graft %v while locked: exit %d\n%s", args, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "overlays")); !os.IsNotExist(err) {
		t.Errorf("a refused render wrote overlays/ (%v)", err)
	}
	if code, _, stderr := graft(t, "check", "--spec", specPath, filepath.Join(root, "base")); code == exitError && strings.Contains(stderr, "locked") {
		t.Errorf("check is refused by the lock: %s", stderr)
	}
	// A dry run writes nothing, so it takes no lock.
	if code, stdout, stderr := graft(t, "render", "--dry-run", "--spec", specPath); code != exitOK || !strings.Contains(stdout, "kind: PersistentVolume") {
		t.Errorf("render --dry-run while locked: exit %d\n%s", code, stderr)
	}
	if _, _, stderr := graft(t, "clone", "--dry-run", "--spec", specPath); strings.Contains(stderr, "locked") {
		t.Errorf("clone --dry-run is refused by the lock: %s", stderr)
	}
}

// TestRenderKeepsALiveBuild: a render removes the build directory a killed
// render left beside the overlay, but never one a live render holds (a
// render of the same migration under another --lock, or from a copy of the
// spec, whose migration lock is another file): removing it under that
// render would place a partial overlay, or fail it.
func TestRenderKeepsALiveBuild(t *testing.T) {
	root, specPath := exampleTree(t, "cassandra-3node")
	overlay := filepath.Join(root, "overlays", "cassandra-3node")
	if code, _, stderr := graft(t, "render", "--spec", specPath); code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	// The live render's build directory: this migration's overlay, being
	// built, its directory held as render holds it.
	build := filepath.Join(root, "overlays", ".graft-render-live")
	testkit.CopyDir(t, overlay, build)
	held, ok, err := lock.TryDir(build)
	if err != nil || !ok {
		t.Fatalf("hold %s: ok %v, %v", build, ok, err)
	}
	code, _, stderr := graft(t, "render", "--spec", specPath, "--lock", filepath.Join(root, "graft.lock"))
	if code != exitOK {
		t.Fatalf("render beside a live build: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(build, "kustomization.yaml")); err != nil || strings.Contains(stderr, "removed the build directory") {
		t.Fatalf("render removed the live render's build directory (%v):\n%s", err, stderr)
	}
	// Once its render is gone (killed: the kernel drops its lock), the
	// directory is a leftover, and the next render removes it.
	held.Release()
	code, _, stderr = graft(t, "render", "--spec", specPath)
	if _, err := os.Stat(build); code != exitOK || !os.IsNotExist(err) || !strings.Contains(stderr, "removed the build directory") {
		t.Errorf("render beside a killed render's build: exit %d, %s: %v\n%s", code, build, err, stderr)
	}
}

// TestConcurrentRendersOfTwoMigrations races two real `graft render` of two
// migrations (each with its own spec, record and lock) into one --out:
// each time exactly one overlay is put in place, whole, and the other
// render exits 2 naming the migration whose overlay is there; nothing else
// is left beside it.
func TestConcurrentRendersOfTwoMigrations(t *testing.T) {
	rootA, specA := exampleTree(t, "cassandra-3node")
	_, specB := exampleTree(t, "cassandra-3node")
	for _, f := range []string{specB, filepath.Join(filepath.Dir(specB), "graft.lock")} {
		data, err := os.ReadFile(f)
		must(t, err)
		data = bytes.Replace(data, []byte(": cassandra-3node\n"), []byte(": other-3node\n"), 1)
		must(t, os.WriteFile(f, data, 0o644))
	}
	names := map[string]string{specA: "cassandra-3node", specB: "other-3node"}
	for round := range 3 {
		out := filepath.Join(rootA, "overlays", fmt.Sprintf("x%d", round))
		a, aErr := graftProcess(t, "render", "--spec", specA, "--out", out)
		b, bErr := graftProcess(t, "render", "--spec", specB, "--out", out)
		ca, cb := exitCode(t, a), exitCode(t, b)
		winner, loserErr := specA, bErr.String()
		if ca != exitOK {
			winner, loserErr = specB, aErr.String()
			ca, cb = cb, ca
		}
		if ca != exitOK || cb != exitError {
			t.Fatalf("round %d: exits %d and %d, want 0 and 2\n%s\n%s", round, ca, cb, aErr, bErr)
		}
		if want := fmt.Sprintf("is the overlay of migration %q", names[winner]); !strings.Contains(loserErr, want) {
			t.Errorf("round %d: the refused render says %q; want %q", round, loserErr, want)
		}
		data, err := os.ReadFile(filepath.Join(out, "kustomization.yaml"))
		if err != nil || !strings.Contains(string(data), "Migration "+names[winner]+":") {
			t.Errorf("round %d: the overlay in place is not %s's (%v):\n%.300s", round, names[winner], err, data)
		}
	}
	entries, err := os.ReadDir(filepath.Join(rootA, "overlays"))
	must(t, err)
	if len(entries) != 3 {
		t.Errorf("overlays/ holds %d entries, want the 3 overlays (a build or aside directory left?)", len(entries))
	}
}
