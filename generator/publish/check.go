package publish

import (
	"context"
	"errors"

	"github.com/graftctl/graft/generator/record"
)

// ErrDenied is returned when the policy check denies the rendered overlay;
// nothing is committed or pushed then.
var ErrDenied = errors.New("the policy check denied the overlay")

// Checker runs graft's policy check on a rendered overlay directory, the
// kustomize build output of each of its roots (render.Result.Builds:
// render already built them; building them again would double publish's
// time) and its record. cmd/graft wires in the
// real policy engine; tests use fakes.
type Checker interface {
	Check(ctx context.Context, overlayDir string, builds map[string][]byte, rec *record.Record) (Verdict, error)
}

// Verdict is the outcome of the policy check.
type Verdict struct {
	Denies   int       `json:"denies"`
	Warns    int       `json:"warns"`
	Findings []Finding `json:"findings,omitempty"`
	// Source says what produced the verdict (for example "graft check,
	// 12 policies"); it appears in the pull request.
	Source string `json:"source,omitempty"`
}

// Denied reports whether any policy denied the overlay.
func (v Verdict) Denied() bool { return v.Denies > 0 }

// Finding is one policy result.
type Finding struct {
	// Severity is deny or warn.
	Severity string `json:"severity"`
	Rule     string `json:"rule,omitempty"`
	Resource string `json:"resource,omitempty"`
	Message  string `json:"message"`
}
