package publish

import (
	"strings"
	"testing"
)

// TestNewProviderNeedsToken: each forge names its own token variable when
// it is unset, and none needs no token.
func TestNewProviderNeedsToken(t *testing.T) {
	none := ProviderOptions{Getenv: func(string) string { return "" }}
	for kind, want := range map[string]string{
		"github": "provider github needs a token: set GITHUB_TOKEN",
		"gitea":  "provider gitea needs a token: set GITEA_TOKEN",
	} {
		p, err := NewProvider(kind, "https://forge.example.com/o/r.git", none)
		if err == nil || p != nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s without a token: %v, %v; want %q", kind, p, err, want)
		}
	}
	if p, err := NewProvider("none", "https://forge.example.com/o/r.git", none); p != nil || err != nil {
		t.Errorf("none: %v, %v", p, err)
	}
	set := ProviderOptions{Getenv: func(k string) string { return map[string]string{"GITEA_TOKEN": "t0ken-value"}[k] }}
	p, err := NewProvider("gitea", "https://forge.example.com/o/r.git", set)
	if err != nil || p == nil || p.Name() != "gitea" {
		t.Errorf("gitea with a token: %v, %v", p, err)
	}
}
