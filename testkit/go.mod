// Test support shared by graft's tests and by the nested test modules
// (testdata/gitea, testdata/e2e). It is its own module, with no
// dependencies, so that requiring it does not pull graft's dependency graph
// into theirs.
module github.com/graftctl/graft/testkit

go 1.26
