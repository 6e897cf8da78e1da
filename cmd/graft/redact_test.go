package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/publish"
)

// TestSecretsNeverPrinted: the value of a secret variable graft knows
// (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, …) never reaches stderr, whatever
// message quotes it, in the error or in a log line of any format; nor does
// the AWS SDK's echo of a credential_process's output it could not parse
// (graft plan printed "parse failed of process output: {…SecretAccessKey…}").
func TestSecretsNeverPrinted(t *testing.T) {
	const aws, gh = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSEKRET", "ghp_SEKRET0123456789abcdef"
	t.Setenv("AWS_SECRET_ACCESS_KEY", aws)
	t.Setenv("GITHUB_TOKEN", gh)
	t.Setenv("GITEA_TOKEN", "x") // too short to be redacted, and to matter
	leaks := func(what, out string) {
		t.Helper()
		if strings.Contains(out, "SEKRET") {
			t.Errorf("%s printed a secret:\n%s", what, out)
		}
	}
	for _, format := range []string{"text", "logfmt", "json"} {
		spec := filepath.Join(t.TempDir(), gh, aws+".yaml")
		code, stdout, stderr := graft(t, "--log-format", format, "render", "--spec", spec)
		if code != exitError || !strings.Contains(stderr, "***") {
			t.Errorf("--log-format %s: exit %d, stderr %q; want exit 2 and the secrets as ***", format, code, stderr)
		}
		leaks("graft render --log-format "+format, stdout+stderr)

		var logs bytes.Buffer
		w := newRedactWriter(&logs, statusRedactor(secretValues(os.Getenv)))
		e, err := newEnv(globals{logFormat: format}, slog.LevelDebug, strings.NewReader(""), w, w, os.Getenv)
		must(t, err)
		e.log.With("token", gh).Info("push to https://x:"+gh+"@example.com", "error", errors.New("denied for "+aws), "group", slog.GroupValue(slog.String("k", aws)))
		must(t, w.Flush())
		leaks("a log line in "+format, logs.String())
	}
	sdk := fmt.Errorf("no AWS credentials: failed to refresh cached credentials, process provider error: parse failed of process output: {\"AccessKeyId\":\"AKIAX\",\"SecretAccessKey\":\"abcSEKRET\"}")
	e, err := newEnv(globals{logFormat: "text"}, slog.LevelInfo, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	must(t, err)
	var stderr bytes.Buffer
	w := newRedactWriter(&stderr, statusRedactor(nil))
	e.stderr = w
	report(t.Context(), e, "plan", sdk)
	must(t, w.Flush())
	leaks("a credential_process error", stderr.String())
	if !strings.Contains(stderr.String(), "process output: (not shown: it may hold credentials)") {
		t.Errorf("the credential_process error says nothing of what it hid: %q", stderr.String())
	}
	// A token in a URL's user-info is hidden too, in the environment or not.
	stderr.Reset()
	report(t.Context(), e, "publish", errors.New("git push https://x-access-token:ghs_SEKRET0123456789@example.com/o/r.git: denied"))
	must(t, w.Flush())
	leaks("a URL's user-info", stderr.String())
	if !strings.Contains(stderr.String(), "https://***@example.com/o/r.git") {
		t.Errorf("the URL's user-info is not shown as ***: %q", stderr.String())
	}
}

// TestSecretsNeverPrintedOnAnyPath: the secrets are hidden on every path
// to stdout and stderr, not only in reported errors and log lines: flag
// errors that echo a value (a secret pasted as a flag's value, or as the
// command), "did you mean", a secret quoted with escapes (%q, logfmt,
// JSON), and the progress bars.
func TestSecretsNeverPrintedOnAnyPath(t *testing.T) {
	// Quotes, a control byte and a non-ASCII letter: %q and JSON write it
	// otherwise than it is.
	const aws = "wJalr\"SEKRET\x01é/K7MDENG"
	const gh = "ghp_SEKRET0123456789abcdef"
	t.Setenv("AWS_SECRET_ACCESS_KEY", aws)
	t.Setenv("GITHUB_TOKEN", gh)
	cases := [][]string{
		{"render", "--log-level", gh},
		{"render", "--log-level", aws},
		{"render", "--dry-run=" + gh},
		{"render", "-o", gh},
		{"--log-format", aws, "render"},
		{"render", "--log-format", gh},
		{gh},
		{"rende" + gh},
		{"help", gh},
		{"render", "--spec", "a.yaml", "--spec", gh},
		{"render", "--out", aws, "--out", "x"},
		{"version", gh},
		{"clone", "--phase", gh, "--spec", gh},
	}
	for _, args := range cases {
		code, stdout, stderr := graft(t, args...)
		if code != exitError || !strings.Contains(stderr, "***") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and the secret as ***", args, code, stderr)
		}
		if out := stdout + stderr; strings.Contains(out, "SEKRET") {
			t.Errorf("%q printed a secret:\n%s", args, out)
		}
	}

	// The bars, and the lines written above them.
	var term bytes.Buffer
	w := newRedactWriter(&term, statusRedactor(secretValues(os.Getenv)))
	bars := ebs.NewBarProgress(w, []string{"cassandra/" + gh})
	bars.Update("cassandra/"+gh, "snapshot "+aws, 50)
	if lw, ok := bars.(io.Writer); ok {
		fmt.Fprintf(lw, "✓ member done  member=cassandra/%s error=%q\n", gh, aws)
	}
	time.Sleep(300 * time.Millisecond) // a refresh or two
	bars.Done("cassandra/"+gh, nil)
	bars.Close()
	must(t, w.Flush())
	if strings.Contains(term.String(), "SEKRET") || !strings.Contains(term.String(), "cassandra/***") {
		t.Errorf("the progress bars printed a secret, or no bar:\n%q", term.String())
	}
}

// TestRedactWriter: what graft writes is held only to the end of its line,
// a secret split across writes is still hidden, stdout's data stays byte
// for byte as written but for the secrets, a question is shown before its
// answer is read, and a line without an end is not held without bound.
func TestRedactWriter(t *testing.T) {
	const secret = "ghp_SEKRET0123456789abcdef"
	var out bytes.Buffer
	w := newRedactWriter(&out, publish.DataRedactor(secret))
	data := "kind: A\n\xff\xfe not UTF-8 \x00 https://git@example.com/r.git https://u:pw0rd1234@example.com " + secret + " end\nno newline"
	want := strings.NewReplacer(secret, "***", "u:pw0rd1234@", "u:***@").Replace(data)
	for i := 0; i < len(data); i += 7 { // a secret cut in two by the writes
		_, err := w.Write([]byte(data[i:min(i+7, len(data))]))
		must(t, err)
	}
	if strings.Contains(out.String(), "no newline") {
		t.Errorf("a line's start was written before its end: %q", out.String())
	}
	must(t, w.Flush())
	if out.String() != want {
		t.Errorf("stdout's data:\n got %q\nwant %q", out.String(), want)
	}

	out.Reset()
	status := newRedactWriter(&out, statusRedactor(nil))
	fmt.Fprint(status, "Snapshot 6 volumes? [y/N] ")
	in := &flushingReader{r: strings.NewReader("y\n"), flush: []*redactWriter{status}}
	line, err := bufio.NewReader(in).ReadString('\n')
	must(t, err)
	if line != "y\n" || out.String() != "Snapshot 6 volumes? [y/N] " {
		t.Errorf("the question was not shown before the answer was read: %q, answer %q", out.String(), line)
	}

	out.Reset()
	long := strings.Repeat("x", maxPending) + " " + strings.Repeat("y", 10)
	fmt.Fprint(status, long)
	if out.Len() != maxPending+1 {
		t.Errorf("a line of %d bytes without its end: %d bytes written, want the %d up to its last blank", len(long), out.Len(), maxPending+1)
	}
}
