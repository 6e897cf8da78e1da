package boundedio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/termtext/termtexttest"
)

// zeros is an endless reader, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// blocked never returns from Read, like a terminal nobody types on.
type blocked struct{ ch chan struct{} }

func (b blocked) Read([]byte) (int, error) { <-b.ch; return 0, io.EOF }

func TestReadLimit(t *testing.T) {
	ctx := context.Background()
	data, err := boundedio.Read(ctx, strings.NewReader("abc"), "stdin", 3)
	if err != nil || string(data) != "abc" {
		t.Fatalf("at the limit: %q %v", data, err)
	}
	_, err = boundedio.Read(ctx, strings.NewReader("abcd"), "stdin", 3)
	var tl *boundedio.TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, boundedio.ErrTooLarge) || err.Error() != "stdin: more than 3 bytes, over graft's limit of 3 bytes" {
		t.Fatalf("over the limit: %v", err)
	}
	start := time.Now()
	_, err = boundedio.Read(ctx, zeros{}, "/dev/zero", 8<<20)
	if !errors.As(err, &tl) || time.Since(start) > 5*time.Second {
		t.Fatalf("endless reader: %v after %v", err, time.Since(start))
	}
}

// TestReadCancel: a cancelled context stops a read of an endless reader
// and of a reader blocked in Read, at once.
func TestReadCancel(t *testing.T) {
	for name, r := range map[string]io.Reader{"endless": zeros{}, "blocked": blocked{make(chan struct{})}} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err := boundedio.Read(ctx, r, "stdin", 1<<62)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("returned %v after the cancel", d)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(p, bytes.Repeat([]byte("a"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := boundedio.ReadFile(ctx, p, 99)
	if err == nil || err.Error() != p+": 100 bytes, over graft's limit of 99 bytes" {
		t.Errorf("regular file over the limit: %v", err)
	}
	if data, err := boundedio.ReadFile(ctx, p, 100); err != nil || len(data) != 100 {
		t.Errorf("at the limit: %d %v", len(data), err)
	}
	if _, err := boundedio.ReadFile(ctx, "/dev/zero", 1<<20); !errors.Is(err, boundedio.ErrTooLarge) || !strings.Contains(err.Error(), "/dev/zero: more than 1048576 bytes") {
		t.Errorf("/dev/zero: %v", err)
	}

	// A FIFO nobody opens for writing (the open blocks), and one whose
	// writer writes nothing (the read blocks): the cancel returns at once.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	readFIFO := func(what string) {
		ctx2, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := boundedio.ReadFile(ctx2, fifo, 1<<20); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("FIFO %s: %v after %v", what, err, time.Since(start))
		}
	}
	readFIFO("without a writer")
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer that stays silent
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	readFIFO("with a silent writer")
	if _, err := boundedio.RegularFile(fifo); !errors.Is(err, boundedio.ErrNotRegular) || !strings.Contains(err.Error(), "a FIFO") {
		t.Errorf("RegularFile(fifo): %v", err)
	}
	if _, err := boundedio.RegularFile("/dev/null"); !errors.Is(err, boundedio.ErrNotRegular) || !strings.Contains(err.Error(), "character device") {
		t.Errorf("RegularFile(/dev/null): %v", err)
	}
	if n, err := boundedio.RegularFile(p); err != nil || n != 100 {
		t.Errorf("RegularFile(regular): %d %v", n, err)
	}
}

// TestUntilDone: f's result when it finishes first; ctx.Err() at once when
// ctx is done first, with f left to finish in the background.
func TestUntilDone(t *testing.T) {
	if v, err := boundedio.UntilDone(context.Background(), func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("finished: %d %v", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	defer close(release)
	go cancel()
	v, err := boundedio.UntilDone(ctx, func() (int, error) { <-release; return 7, nil })
	if v != 0 || err != context.Canceled {
		t.Errorf("cancelled: %d %v, want 0 and context.Canceled", v, err)
	}
}

// TestReadFileDirectory: a directory is refused as not a file, naming it.
func TestReadFileDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := boundedio.ReadFile(context.Background(), dir, 1<<20)
	if !errors.Is(err, boundedio.ErrNotRegular) || !strings.Contains(err.Error(), dir+": not a regular file (a directory); expected a file") {
		t.Errorf("ReadFile(dir): %v", err)
	}
}

// TestErrorsQuoteUnsafePaths: a path a terminal would act on (a newline
// that starts a line of its own, ESC) is quoted in every error that names
// it; a plain path is named as it is.
func TestErrorsQuoteUnsafePaths(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, termtexttest.Hostile)
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	_, errDir := boundedio.ReadFile(context.Background(), bad, 10)
	_, errMissing := boundedio.ReadFile(context.Background(), bad+"/missing", 10)
	_, errStat := boundedio.RegularFile(bad + "/missing")
	_, errDirSize := boundedio.RegularFile(bad)
	tooLarge := &boundedio.TooLargeError{Name: bad, Size: 20, Limit: 10}
	for _, err := range []error{errDir, errMissing, errStat, errDirSize, tooLarge} {
		if err == nil {
			t.Fatal("no error")
		}
		termtexttest.Check(t, "error", err.Error()+"\n", 1)
		if !strings.Contains(err.Error(), strings.TrimSuffix(strconv.Quote(bad), `"`)) {
			t.Errorf("%v: the path is not quoted", err)
		}
	}
	if !errors.Is(errMissing, fs.ErrNotExist) || !errors.Is(errDir, boundedio.ErrNotRegular) {
		t.Errorf("the causes are lost: %v, %v", errMissing, errDir)
	}
	_, err := boundedio.ReadFile(context.Background(), filepath.Join(dir, "plain"), 10)
	if want := filepath.Join(dir, "plain"); !strings.Contains(err.Error(), want+":") {
		t.Errorf("%v: a plain path is not named as it is", err)
	}
}
