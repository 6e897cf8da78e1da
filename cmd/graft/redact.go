package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"sync"

	"github.com/graftctl/graft/generator/publish"
)

// secretEnv are the environment variables graft knows hold secrets: their
// values never reach graft's output, whatever message quotes them (an SDK
// error, a git error, a hook's output, a flag's value echoed back).
var secretEnv = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "GITHUB_TOKEN", "GITEA_TOKEN"}

// minSecret is the shortest value redacted: a shorter one ("1", "x") would
// blank out ordinary words, and is no credential.
const minSecret = 8

// processOutput is the AWS SDK's echo of a credential_process's output it
// could not parse ("parse failed of process output: {…}"): that output is
// the credentials.
var processOutput = regexp.MustCompile(`(process output: )[^\n]*`)

// secretValues are the values of secretEnv long enough to redact.
func secretValues(getenv func(string) string) []string {
	var secrets []string
	for _, k := range secretEnv {
		if v := getenv(k); len(v) >= minSecret {
			secrets = append(secrets, v)
		}
	}
	return secrets
}

// statusRedactor hides secrets in what graft prints on stderr: publish's
// redactor (the secrets, in every form a message quotes them, and those
// in URLs' user-info) and the SDK's echo of a credential process's output.
func statusRedactor(secrets []string) func(string) string {
	values := publish.Redactor(secrets...)
	return func(s string) string {
		return processOutput.ReplaceAllString(values(s), "${1}(not shown: it may hold credentials)")
	}
}

// maxPending bounds what a redactWriter holds back waiting for the end of
// a line: a longer line is cut after its last blank (where neither a URL's
// user-info nor a secret without blanks can be cut in two), or, with none,
// written as it is.
const maxPending = 64 << 10

// redactWriter is one of graft's output streams with the secrets taken
// out. run wraps stdout and stderr once each, before it parses anything,
// so that every byte graft writes passes through one: errors of any kind,
// flag errors and "did you mean" included, log lines, prompts, progress
// bars, data. It redacts whole lines (a secret split across two writes is
// still found) and writes them at once; a line's start without its end is
// held until the end comes, Flush is called (run does, before it returns;
// a read of stdin does, so a prompt is shown before its answer is read),
// or it passes maxPending.
type redactWriter struct {
	mu      sync.Mutex
	w       io.Writer
	redact  func(string) string
	pending []byte
}

func newRedactWriter(w io.Writer, redact func(string) string) *redactWriter {
	return &redactWriter{w: w, redact: redact}
}

func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, p...)
	cut := bytes.LastIndexByte(r.pending, '\n') + 1
	if cut == 0 && len(r.pending) > maxPending {
		if cut = bytes.LastIndexAny(r.pending, " \t\r\v\f") + 1; cut == 0 {
			cut = len(r.pending)
		}
	}
	if err := r.emit(cut); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back.
func (r *redactWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emit(len(r.pending))
}

// emit writes the first n bytes held, redacted, in one write.
func (r *redactWriter) emit(n int) error {
	if n == 0 {
		return nil
	}
	out := r.redact(string(r.pending[:n]))
	r.pending = append(r.pending[:0], r.pending[n:]...)
	_, err := io.WriteString(r.w, out)
	return err
}

// Fd is the descriptor of the file underneath, so that the progress bars
// can tell a terminal and its size through the redactor (an invalid one
// when there is no file).
func (r *redactWriter) Fd() uintptr {
	if f, ok := underlying(r.w).(*os.File); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// flushingReader is stdin as graft reads it: each read first flushes the
// output streams, so that a question is on the screen before graft waits
// for its answer.
type flushingReader struct {
	r     io.Reader
	flush []*redactWriter
}

func (f *flushingReader) Read(p []byte) (int, error) {
	for _, w := range f.flush {
		_ = w.Flush()
	}
	return f.r.Read(p)
}

// underlying is what v wraps (graft's own stream wrappers), down to the
// stream it was given: the file, for telling a terminal.
func underlying(v any) any {
	for range 4 {
		switch s := v.(type) {
		case *stdoutWriter:
			v = s.w
		case *redactWriter:
			v = s.w
		case *flushingReader:
			v = s.r
		default:
			return v
		}
	}
	return v
}
