package publish

import (
	"regexp"
	"strings"
)

// Redacted replaces a secret in everything graft prints, logs or returns.
const Redacted = "***"

// redactor removes secrets from text: the provider tokens it was given, and
// the user-info part of http(s) URLs (https://user:token@host or
// https://token@host), in which tokens are often passed to git.
type redactor struct {
	secrets []string
}

var urlUserInfo = regexp.MustCompile(`(?i)\b(https?://)[^/@\s]+@`)

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		r.add(s)
	}
	return r
}

func (r *redactor) add(secret string) {
	// Very short values would redact ordinary words; no real token is
	// that short.
	if len(secret) >= 4 {
		r.secrets = append(r.secrets, secret)
	}
}

// String returns s without secrets.
func (r *redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return urlUserInfo.ReplaceAllString(s, "${1}"+Redacted+"@")
}

// RedactURL returns a URL fit for printing: without its user info.
func RedactURL(u string) string { return (&redactor{}).String(u) }
