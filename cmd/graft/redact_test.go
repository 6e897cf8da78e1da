package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
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
		e, err := newEnv(globals{logFormat: format}, slog.LevelDebug, strings.NewReader(""), &logs, &logs, func(k string) string {
			return map[string]string{"AWS_SECRET_ACCESS_KEY": aws, "GITHUB_TOKEN": gh}[k]
		})
		must(t, err)
		e.log.With("token", gh).Info("push to https://x:"+gh+"@example.com", "error", errors.New("denied for "+aws), "group", slog.GroupValue(slog.String("k", aws)))
		leaks("a log line in "+format, logs.String())
	}
	sdk := fmt.Errorf("no AWS credentials: failed to refresh cached credentials, process provider error: parse failed of process output: {\"AccessKeyId\":\"AKIAX\",\"SecretAccessKey\":\"abcSEKRET\"}")
	e, err := newEnv(globals{logFormat: "text"}, slog.LevelInfo, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	must(t, err)
	var stderr bytes.Buffer
	e.stderr = &stderr
	report(t.Context(), e, "plan", sdk)
	leaks("a credential_process error", stderr.String())
	if !strings.Contains(stderr.String(), "process output: (not shown: it may hold credentials)") {
		t.Errorf("the credential_process error says nothing of what it hid: %q", stderr.String())
	}
	// A token in a URL's user-info is hidden too, in the environment or not.
	stderr.Reset()
	report(t.Context(), e, "publish", errors.New("git push https://x-access-token:ghs_SEKRET0123456789@example.com/o/r.git: denied"))
	leaks("a URL's user-info", stderr.String())
	if !strings.Contains(stderr.String(), "https://***@example.com/o/r.git") {
		t.Errorf("the URL's user-info is not shown as ***: %q", stderr.String())
	}
}
