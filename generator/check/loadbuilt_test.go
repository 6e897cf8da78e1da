package check

import (
	"context"
	"reflect"

	"github.com/open-policy-agent/opa/v1/ast"
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
	a, err := Load(context.Background(), []string{dir}, nil)
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

// TestASTValueMatchesValue: the parallel conversion for OPA gives the
// value converting the whole input at once would.
func TestASTValueMatchesValue(t *testing.T) {
	in, err := Load(context.Background(), []string{"../../overlays/cassandra-6node-racks"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := in.astValue()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ast.InterfaceToValue(in.Value())
	if err != nil {
		t.Fatal(err)
	}
	if got.Compare(want) != 0 {
		t.Errorf("astValue differs from the converted input:\n%v\n%v", got, want)
	}
}
