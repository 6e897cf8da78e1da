package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/boundedio"
)

// graftCancelled runs the CLI in-process with a context that is already
// done, as after SIGINT or SIGTERM.
func graftCancelled(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stderr.String()
}

// TestInterruptedCommandsWriteNothing: after a signal, no command writes.
func TestInterruptedCommandsWriteNothing(t *testing.T) {
	t.Run("render", func(t *testing.T) {
		root, specPath := exampleTree(t, "cassandra-3node")
		before := listTree(t, root)
		code, stderr := graftCancelled(t, "render", "--spec", specPath)
		if code != exitError || !strings.Contains(stderr, "render: interrupted (SIGINT or SIGTERM); nothing more was written") {
			t.Errorf("render: exit %d %s", code, stderr)
		}
		if after := listTree(t, root); after != before {
			t.Errorf("an interrupted render wrote:\n%s\n%s", before, after)
		}
	})
	t.Run("publish", func(t *testing.T) {
		bare, specPath := publishEnv(t)
		root := filepath.Dir(specPath)
		before := listTree(t, root)
		code, stderr := graftCancelled(t, "--spec", specPath, "publish", "--repo", bare)
		if code != exitError {
			t.Errorf("publish: exit %d %s", code, stderr)
		}
		if out, err := exec.Command("git", "-C", bare, "branch", "--list", "graft/*").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("an interrupted publish pushed %s (%v)", out, err)
		}
		if after := listTree(t, root); after != before {
			t.Errorf("an interrupted publish wrote:\n%s\n%s", before, after)
		}
	})
	t.Run("discover, clone and cleanup", func(t *testing.T) {
		s := newCLISim(t)
		root := filepath.Dir(s.spec)
		before := listTree(t, root)
		for _, args := range [][]string{{"discover"}, {"clone", "--phase", "precopy", "--yes"}, {"clone", "--yes"}, {"cleanup", "--yes"}, {"run", "--yes"}} {
			if code, stderr := graftCancelled(t, append(args, "--spec", s.spec)...); code != exitError {
				t.Errorf("%v: exit %d %s", args, code, stderr)
			}
		}
		s.nothingCreated(t)
		if after := listTree(t, root); after != before {
			t.Errorf("an interrupted command wrote:\n%s\n%s", before, after)
		}
	})
	t.Run("demo", func(t *testing.T) {
		work := filepath.Join(t.TempDir(), "demo")
		if code, stderr := graftCancelled(t, "demo", "--workdir", work); code != exitError {
			t.Errorf("demo: exit %d %s", code, stderr)
		}
		if _, err := os.Stat(work); !os.IsNotExist(err) {
			t.Errorf("an interrupted demo made %s (%v)", work, err)
		}
	})
}

// signalChild is the child mode of TestSecondSignalKills: main's signal
// handling, then a wind-down that never ends.
const signalChild = "GRAFT_TEST_SIGNAL_CHILD"

func init() {
	if os.Getenv(signalChild) != "1" {
		return
	}
	ctx, stop := signalContext()
	defer stop()
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("stopping")
	time.Sleep(30 * time.Second) // a stuck wind-down
	os.Exit(0)
}

// TestSecondSignalKills: the first SIGINT asks graft to stop; a second one
// kills it at once, even if its wind-down hangs.
func TestSecondSignalKills(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), signalChild+"=1")
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("child said %q, want %q", lines.Text(), want)
		}
	}
	expect("ready")
	must(t, cmd.Process.Signal(syscall.SIGINT))
	expect("stopping")
	start := time.Now()
	must(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the second SIGINT did not kill graft")
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("child ended with %v, want killed by SIGINT", cmd.ProcessState)
	}
	t.Logf("killed %s after the second SIGINT", time.Since(start).Round(time.Millisecond))
}

// TestSignalDuringConfirmation: a signal while graft waits for the answer
// stops it there, with nothing changed.
func TestSignalDuringConfirmation(t *testing.T) {
	s := newCLISim(t)
	r, w, err := os.Pipe()
	must(t, err)
	defer w.Close()
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	e := &env{globals: globals{specPath: s.spec}, stdin: r, stderr: &stderr, stdinIsTerminal: true}
	time.AfterFunc(50*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { done <- confirm(ctx, e, "Snapshot 6 volumes") }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "interrupted before confirmation; nothing was changed") {
			t.Errorf("confirm: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("confirm still waits for an answer after the signal")
	}
	s.nothingCreated(t)
}

// TestSpecReadIsBounded: the spec is read in bounded form by every command,
// the lock's look-up of its name included: /dev/zero as the spec is refused
// at graft's size limit (it was read until the kernel killed graft), and a
// FIFO nobody writes to does not keep graft alive after a signal.
func TestSpecReadIsBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	for _, args := range [][]string{{"render"}, {"iam-policy"}, {"check"}, {"clone", "--yes"}} {
		done := make(chan struct{})
		var code int
		var stderr bytes.Buffer
		go func() {
			defer close(done)
			code = run(context.Background(), append([]string{"--spec", "/dev/zero"}, args...), strings.NewReader(""), &bytes.Buffer{}, &stderr)
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%v with --spec /dev/zero still runs after 60 s", args)
		}
		if code != exitError || !strings.Contains(stderr.String(), fmt.Sprintf("/dev/zero: more than %d bytes, over graft's limit", boundedio.MaxSpecBytes)) {
			t.Errorf("%v --spec /dev/zero: exit %d, %s; want exit 2 naming the limit", args, code, stderr.String())
		}
	}
	fifo := filepath.Join(t.TempDir(), "graft.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	for _, args := range [][]string{{"render"}, {"iam-policy"}} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, append([]string{"--spec", fifo}, args...), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
		}()
		time.Sleep(100 * time.Millisecond)
		cancel() // as SIGTERM does
		select {
		case code := <-done:
			if code != exitError {
				t.Errorf("%v --spec FIFO: exit %d after the signal, want 2", args, code)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%v --spec FIFO: still blocked 10 s after the signal", args)
			// Unblock the open so the goroutine ends.
			if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				f.Close()
			}
		}
	}
}

// TestInterruptedRunSaysSo: a run or demo stopped by a signal says it was
// interrupted and how to resume, not that something must be fixed.
func TestInterruptedRunSaysSo(t *testing.T) {
	s := newCLISim(t)
	for _, args := range [][]string{{"run", "--yes", "--spec", s.spec}, {"demo", "--workdir", t.TempDir()}} {
		code, stderr := graftCancelled(t, args...)
		if code != exitError || !strings.Contains(stderr, "interrupted (SIGINT or SIGTERM)") || strings.Contains(stderr, "Fix it") {
			t.Errorf("%v: exit %d\n%s\nwant exit 2 saying it was interrupted, and no fix", args, code, stderr)
		}
	}
}

// TestStageErrorOfASignal: a stage stopped by a signal is worded as
// interrupted, with how to resume, never with the stage's fix.
func TestStageErrorOfASignal(t *testing.T) {
	msg := (&stageError{stage: "clone", again: "run graft run again", fix: "Fix it and run graft run again.", err: fmt.Errorf("waiting for snap-1: %w", context.Canceled)}).Error()
	if !strings.Contains(msg, "clone interrupted (SIGINT or SIGTERM)") || strings.Contains(msg, "Fix it") {
		t.Errorf("a stage stopped by a signal says:\n%s", msg)
	}
	if msg := (&stageError{stage: "clone", again: "run graft run again", fix: "Fix it.", err: errors.New("denied")}).Error(); !strings.Contains(msg, "clone failed: denied\nFix it.") {
		t.Errorf("a failed stage says:\n%s", msg)
	}
}
