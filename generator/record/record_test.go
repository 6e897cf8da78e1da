package record_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
)

func examplePaths(t testing.TB) []string {
	paths, _ := filepath.Glob("../../testdata/examples/*/graft.lock")
	if len(paths) == 0 {
		t.Fatal("no example records")
	}
	return paths
}

// TestRoundTrip: loading and writing a record gives the same bytes, so the
// file is deterministic and diffable.
func TestRoundTrip(t *testing.T) {
	for _, p := range examplePaths(t) {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := record.Parse(want)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// Order must not matter.
		for i, j := 0, len(r.Volumes)-1; i < j; i, j = i+1, j-1 {
			r.Volumes[i], r.Volumes[j] = r.Volumes[j], r.Volumes[i]
		}
		out := filepath.Join(t.TempDir(), "graft.lock")
		if err := r.Write(out); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rewrite differs:\n%s", p, got)
		}
	}
}

func TestInvalid(t *testing.T) {
	good, err := os.ReadFile(examplePaths(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to, want string }{
		{"unknown field", "kind: Lock", "kind: Lock\nextra: 1", "field extra not found"},
		{"wrong kind", "kind: Lock", "kind: Lok", `kind: "Lok", expected "Lock"`},
		{"bad target volume", "targetVolume: vol-", "targetVolume: disk-", `targetVolume: "disk-`},
		{"zone outside region", "targetZone: us-east-1a", "targetZone: eu-west-1a", `targetZone: "eu-west-1a", expected a zone of the target region`},
		{"corrupt", "volumes:", "volumes: [", "invalid graft.lock"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(string(good), c.from, c.to, 1)
			if doc == string(good) {
				t.Fatalf("case does not change the record (%q not found)", c.from)
			}
			_, err := record.Parse([]byte(doc))
			if err == nil || !errors.Is(err, record.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
}

func TestDuplicateAndSourceVolume(t *testing.T) {
	r, err := record.Load(examplePaths(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	r.Volumes = append(r.Volumes, r.Volumes[0])
	r.Volumes[1].TargetVolume = r.Volumes[1].SourceVolume
	err = r.Validate()
	for _, want := range []string{"one entry per member and claim template", "a cloned volume, never the source volume", "a volume used once"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := record.Load(filepath.Join(t.TempDir(), "graft.lock"))
	if err == nil || !errors.Is(err, record.ErrInvalid) || !strings.Contains(err.Error(), "run `graft clone` first") {
		t.Errorf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range examplePaths(f) {
		data, _ := os.ReadFile(p)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := record.Parse(data)
		if err != nil {
			if !errors.Is(err, record.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if _, err := r.Marshal(); err != nil {
			t.Fatalf("accepted record does not marshal: %v", err)
		}
	})
}
