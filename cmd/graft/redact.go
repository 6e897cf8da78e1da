package main

import (
	"context"
	"errors"
	"log/slog"
	"regexp"

	"github.com/graftctl/graft/generator/publish"
)

// secretEnv are the environment variables graft knows hold secrets: their
// values never reach graft's output, whatever message quotes them (an SDK
// error, a git error, a hook's output).
var secretEnv = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "GITHUB_TOKEN", "GITEA_TOKEN"}

// minSecret is the shortest value redacted: a shorter one ("1", "x") would
// blank out ordinary words, and is no credential.
const minSecret = 8

// processOutput is the AWS SDK's echo of a credential_process's output it
// could not parse ("parse failed of process output: {…}"): that output is
// the credentials.
var processOutput = regexp.MustCompile(`(process output: )[^\n]*`)

// redactor hides secrets in what graft prints on stderr: publish's
// redactor (the secrets, and those in URLs' user-info) over the values of
// secretEnv, and the SDK's echo of a credential process's output.
type redactor struct{ values func(string) string }

func newRedactor(getenv func(string) string) redactor {
	var secrets []string
	for _, k := range secretEnv {
		if v := getenv(k); len(v) >= minSecret {
			secrets = append(secrets, v)
		}
	}
	return redactor{publish.Redactor(secrets...)}
}

func (r redactor) redact(s string) string {
	if r.values != nil {
		s = r.values(s)
	}
	return processOutput.ReplaceAllString(s, "${1}(not shown: it may hold credentials)")
}

// redactHandler redacts every log record's message and attributes.
type redactHandler struct {
	slog.Handler
	r redactor
}

func (h redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.redact(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.Any(a.Key, errors.New(h.r.redact(err.Error())))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, h.r.redact(s.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return redactHandler{h.Handler.WithAttrs(red), h.r}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.Handler.WithGroup(name), h.r}
}
