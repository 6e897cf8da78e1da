package publish

import (
	"slices"
	"strings"
	"testing"
)

// TestUserInfoSecrets: the secrets of a remote URL's user-info are read
// with net/url, so a password is redacted as written (percent-encoded) and
// as decoded, and a URL without user-info yields none.
func TestUserInfoSecrets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"https://x-access-token:ghs_abc123@github.com/o/r", []string{"x-access-token:ghs_abc123", "ghs_abc123"}},
		{"https://x-access-token:ab%2Fcd%40ef12@host/o/r", []string{"x-access-token:ab%2Fcd%40ef12", "ab/cd@ef12", "ab%2Fcd%40ef12"}},
		{"http://tok3n0123@127.0.0.1:3000/o/r", []string{"tok3n0123"}},
		{"https://github.com/o/r", nil},
		{"git@github.com:o/r.git", nil},
	} {
		got := userInfoSecrets(tc.in)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("userInfoSecrets(%q) = %q, lacks %q", tc.in, got, w)
			}
		}
		if tc.want == nil && len(got) > 0 {
			t.Errorf("userInfoSecrets(%q) = %q, want none", tc.in, got)
		}
	}
	r := newRedactor(userInfoSecrets("https://x-access-token:ab%2Fcd%40ef12@host/o/r")...)
	if got := r.String("credential helper got password ab/cd@ef12"); strings.Contains(got, "ab/cd@ef12") {
		t.Errorf("the decoded password is not redacted: %q", got)
	}
	// User-info net/url cannot read goes whole, whatever the scheme.
	if got := RedactURL("fatal: ssh://deploy:pw%zz@host/o/r"); got != "fatal: ssh://***@host/o/r" {
		t.Errorf("unreadable user-info: %q", got)
	}
}
