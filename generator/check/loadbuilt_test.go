package check

import (
	"reflect"
	"testing"

	"github.com/graftctl/graft/generator/render"
)

// TestLoadBuiltMatchesLoad: handing check render's build output gives the
// policies exactly the input that building the directory again would.
func TestLoadBuiltMatchesLoad(t *testing.T) {
	dir := "../../overlays/cassandra-6node-racks"
	built, err := render.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Load([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBuilt(dir, built)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Docs) < 20 || !reflect.DeepEqual(a.Value(), b.Value()) {
		t.Errorf("LoadBuilt gives %d documents, Load %d; they differ", len(b.Docs), len(a.Docs))
	}
	if _, err := LoadBuilt("../../testdata", built); err == nil {
		t.Error("LoadBuilt accepted a directory without a kustomization")
	}
}
