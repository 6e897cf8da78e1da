package publish

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Redacted replaces a secret in everything graft prints, logs or returns.
const Redacted = "***"

// redactor removes secrets from text: the provider tokens it was given, and
// the user-info of URLs (scheme://user:password@host), in which tokens are
// often passed to git. For http(s) the whole user-info goes
// (https://***@host). For other schemes (ssh, git, ftp, …) the user name is
// usually not secret (ssh://git@host), so only the password goes
// (ssh://user:***@host), and the user name too when it looks like a token.
type redactor struct {
	// secrets are the values to hide, and the forms in which a message may
	// quote them (see add), longest first.
	secrets []string
	// keepUsers keeps a URL's user name that does not look like a token,
	// and hides only its password (see DataRedactor).
	keepUsers bool
}

var urlUserInfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s]+)@`)

// tokenPrefixes start the tokens of GitHub and GitLab.
var tokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"}

// looksLikeToken reports whether a URL user name is likely a token: a known
// prefix, or 20 characters or more with both letters and digits (Gitea's
// are 40 hex digits). A false positive only hides a user name.
func looksLikeToken(user string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(strings.ToLower(user), p) {
			return true
		}
	}
	return len(user) >= 20 && strings.ContainsAny(user, "0123456789") &&
		strings.ContainsAny(strings.ToLower(user), "abcdefghijklmnopqrstuvwxyz")
}

// redactUserInfo is the replacement for one urlUserInfo match
// (scheme://user-info@), read with net/url. User-info net/url cannot read
// goes whole.
func (r *redactor) redactUserInfo(m string) string {
	sm := urlUserInfo.FindStringSubmatch(m)
	scheme := sm[1]
	u, err := url.Parse(strings.ToLower(scheme) + sm[2] + "@host")
	if err != nil || u.User == nil {
		return scheme + Redacted + "@"
	}
	user := u.User.Username()
	_, hasPassword := u.User.Password()
	switch {
	case looksLikeToken(user), !r.keepUsers && (u.Scheme == "http" || u.Scheme == "https"):
		return scheme + Redacted + "@"
	case hasPassword:
		return scheme + url.User(user).String() + ":" + Redacted + "@"
	}
	return m
}

// userInfoSecrets returns what to redact of a URL's user-info once its
// user-info is known to hide a secret: the user-info as a URL writes it,
// and its password alone, as written and decoded; without a password, the
// user name (a token). Nothing for a URL net/url cannot read or one
// without user-info (scp-like git@host:o/r).
func userInfoSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	written := u.User.String()
	out := []string{written}
	if pw, ok := u.User.Password(); ok {
		_, pwWritten, _ := strings.Cut(written, ":")
		return append(out, pw, pwWritten)
	}
	return append(out, u.User.Username())
}

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
	if len(secret) < 4 {
		return
	}
	// A message may quote the secret: Go's %q and strconv.Quote (as
	// logfmt does), JSON (as the JSON log does), escape what the secret
	// as written does not; each form is hidden too.
	forms := []string{secret, quoted(strconv.Quote(secret)), quoted(strconv.QuoteToASCII(secret))}
	for _, html := range []bool{true, false} { // encoding/json's default, and slog's JSON
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(secret) == nil {
			forms = append(forms, quoted(strings.TrimSuffix(b.String(), "\n")))
		}
	}
	for _, f := range forms {
		if !slices.Contains(r.secrets, f) {
			r.secrets = append(r.secrets, f)
		}
	}
	// Longest first: a secret that holds another is hidden whole, not
	// around the shorter one's ***.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

// quoted is q without its surrounding quotes.
func quoted(q string) string { return q[1 : len(q)-1] }

// String returns s without secrets.
func (r *redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return urlUserInfo.ReplaceAllStringFunc(s, r.redactUserInfo)
}

// Redactor returns the function that removes secrets from text as graft's
// own output is cleaned: the given secrets, and the secrets of URLs'
// user-info (see redactor).
func Redactor(secrets ...string) func(string) string { return newRedactor(secrets...).String }

// DataRedactor is Redactor for data that must stay as written but for its
// secrets (what graft prints on stdout): the given secrets, the passwords
// of URLs' user-info and user names that look like tokens; a user name
// that does not (https://git@host) stays.
func DataRedactor(secrets ...string) func(string) string {
	r := newRedactor(secrets...)
	r.keepUsers = true
	return r.String
}

// RedactURL returns a URL fit for printing: without its password or token
// (see redactor).
func RedactURL(u string) string { return (&redactor{}).String(u) }
