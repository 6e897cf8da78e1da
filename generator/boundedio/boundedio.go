// Package boundedio reads graft's input files in bounded form: every read
// has a size limit and honours a context, so that a huge file, a device
// (/dev/zero) or a pipe that never ends neither exhausts memory nor keeps
// graft alive after SIGINT or SIGTERM.
//
// The limits of graft's input live here, in one place, for the README to
// cite. They are sized for overlays of well over 1,000 members.
package boundedio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/graftctl/graft/generator/termtext"
)

// Limits of one graft run's input.
const (
	// MaxFileBytes is the largest file graft reads: a YAML file, standard
	// input, a built overlay, graft.lock or the spec (64 MiB).
	MaxFileBytes int64 = 64 << 20
	// MaxTotalBytes is the most graft check reads in one run, all files
	// together (256 MiB).
	MaxTotalBytes int64 = 256 << 20
	// MaxDocuments is the most YAML documents (objects) graft check reads
	// in one run (200,000: 50 times a 1,000-member overlay).
	MaxDocuments = 200_000
	// MaxFiles is the most files graft check reads from the kustomize
	// directories it is given (kustomizations, resources, patches,
	// generator sources).
	MaxFiles = 10_000
	// MaxDepth is the deepest nesting of YAML collections graft decodes.
	MaxDepth = 200
	// MaxSpecBytes is the largest migration spec graft reads (1 MiB, room
	// for a mapping table of 10,000 instances).
	MaxSpecBytes int64 = 1 << 20
)

// ErrTooLarge is wrapped by every error about input over a limit.
var ErrTooLarge = errors.New("input over graft's limit")

// TooLargeError says which input is over which limit.
type TooLargeError struct {
	// Name is the file ("stdin" for standard input).
	Name string
	// Size is the size found, or -1 when the input was not read to its
	// end (a device, a pipe): it is then more than Limit.
	Size int64
	// Limit is the limit, in Unit.
	Limit int64
	// Unit is what is counted: "bytes" unless set.
	Unit string
}

func (e *TooLargeError) Error() string {
	unit := e.Unit
	if unit == "" {
		unit = "bytes"
	}
	// Name is often a path: quoted if a terminal would act on it.
	name := termtext.Value(e.Name)
	if e.Size < 0 {
		return fmt.Sprintf("%s: more than %d %s, over graft's limit of %d %s", name, e.Limit, unit, e.Limit, unit)
	}
	return fmt.Sprintf("%s: %d %s, over graft's limit of %d %s", name, e.Size, unit, e.Limit, unit)
}

// Unwrap lets errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// chunk is how much one read asks for; the context is checked between
// reads.
const chunk = 256 << 10

// Read reads r to its end, at most limit bytes, and returns ctx.Err() as
// soon as ctx is done, even while a read is blocked (on a terminal or a
// pipe). The blocked read is then left to the process's exit; callers that
// own the reader should close it (ReadFile does).
func Read(ctx context.Context, r io.Reader, name string, limit int64) ([]byte, error) {
	return read(ctx, r, name, limit, 0, nil)
}

func read(ctx context.Context, r io.Reader, name string, limit, sizeHint int64, closer io.Closer) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	stop := make(chan struct{})
	go func() {
		buf := make([]byte, 0, min(max(sizeHint, 0)+1, limit+1))
		for {
			select {
			case <-stop:
				done <- result{nil, context.Canceled}
				return
			default:
			}
			if int64(len(buf)) > limit {
				done <- result{nil, &TooLargeError{Name: name, Size: -1, Limit: limit}}
				return
			}
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			want := min(cap(buf)-len(buf), chunk, int(limit+1)-len(buf))
			n, err := r.Read(buf[len(buf) : len(buf)+want])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				if int64(len(buf)) > limit {
					done <- result{nil, &TooLargeError{Name: name, Size: -1, Limit: limit}}
					return
				}
				done <- result{buf, nil}
				return
			}
			if err != nil {
				done <- result{nil, err}
				return
			}
		}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		close(stop)
		if closer != nil {
			closer.Close() // unblocks a read on a pipe or FIFO
		}
		return nil, ctx.Err()
	}
}

// ReadFile reads the file at path (any kind: a regular file, a FIFO, a
// device), at most limit bytes, honouring ctx: also while the open blocks
// (a FIFO nobody writes to). A directory is refused with an error wrapping
// ErrNotRegular.
func ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	var f *os.File
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, quotePath(o.err)
		}
		f = o.f
	case <-ctx.Done():
		go func() { // close the file if the open ever returns
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s: %w (%s); expected a file", termtext.Value(path), ErrNotRegular, FileKind(info.Mode()))
	}
	var size int64
	if info.Mode().IsRegular() {
		size = info.Size()
		if size > limit {
			return nil, &TooLargeError{Name: path, Size: size, Limit: limit}
		}
	}
	return read(ctx, f, path, limit, size, f)
}

// quotePath quotes the path of an *fs.PathError ("open <path>: no such
// file or directory") when a terminal would act on it (a newline, ESC, a
// bidi override, termtext.Value); errors.Is still sees its cause.
func quotePath(err error) error {
	if pe, ok := err.(*fs.PathError); ok && termtext.Unsafe(pe.Path) {
		return &fs.PathError{Op: pe.Op, Path: termtext.Value(pe.Path), Err: pe.Err}
	}
	return err
}

// ErrNotRegular is wrapped by the error of RegularFile.
var ErrNotRegular = errors.New("not a regular file")

// RegularFile returns the size of the file at path (symbolic links
// followed) and an error wrapping ErrNotRegular when it is not a regular
// file: a directory, a device, a FIFO or a socket.
func RegularFile(path string) (int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, quotePath(err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: %w (%s): graft reads only regular files in a directory", termtext.Value(path), ErrNotRegular, FileKind(info.Mode()))
	}
	return info.Size(), nil
}

// FileKind names what kind of file m is, with its article: "a regular
// file", "a directory", "a FIFO" and so on, for messages that say why a
// path is not what graft expected there.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file (" + m.Type().String() + ")"
}

// UntilDone runs f and returns its result, or ctx.Err() as soon as ctx is
// done: for work that takes no context (a krusty build, a YAML parse),
// which then runs on in the background until it finishes. It must only
// read, since its result is dropped.
func UntilDone[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
