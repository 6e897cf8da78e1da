package check

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/gctarget"
	"github.com/graftctl/graft/internal/testkit"
)

// splitOverlay renders the cassandra-3node example grown to replicas
// members, a split overlay above render.ShardMembers, into a temporary
// GitOps tree, with its graft.lock inside.
func splitOverlay(t testing.TB, replicas int) (string, *render.Result) {
	return grownOverlay(t, "cassandra-3node", "cassandra-single", replicas)
}

// grownOverlay renders an example with perSet members in each of its
// StatefulSets (ordinal o's volumes are a copy of recorded ordinal o modulo
// the recorded ones, with their own ids) into a temporary GitOps tree, the
// base copied to base/, and writes graft.lock inside the overlay.
func grownOverlay(t testing.TB, example, base string, perSet int) (string, *render.Result) {
	t.Helper()
	ex := filepath.Join("../../testdata/examples", example)
	m, err := spec.Load(filepath.Join(ex, "graft.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.Load(filepath.Join(ex, lock))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	testkit.CopyDir(t, filepath.Join("../../testdata/bases", base), filepath.Join(root, "base"))
	m.Spec.GitOps.Base, m.Spec.GitOps.OverlayPath = "../../base", "overlays/big"
	recorded := map[string][]record.Volume{}
	for _, v := range rec.Volumes {
		recorded[v.StatefulSet+"/"+v.ClaimTemplate] = append(recorded[v.StatefulSet+"/"+v.ClaimTemplate], v)
	}
	rec.Volumes = nil
	for i, sts := range m.Spec.Target.StatefulSets {
		m.Spec.Target.StatefulSets[i].Replicas = perSet
		templates := len(m.Spec.Source.Devices)
		for o := sts.Ordinals.Start; o < sts.Ordinals.Start+perSet; o++ {
			for _, d := range m.Spec.Source.Devices {
				vols := recorded[sts.Name+"/"+d.ClaimTemplate]
				v := vols[(o-sts.Ordinals.Start)%len(vols)]
				n := len(rec.Volumes)
				v.Ordinal = o
				v.SourceInstance = fmt.Sprintf("i-%017x", n/templates)
				v.SourceVolume = fmt.Sprintf("vol-1%016x", n)
				v.TargetVolume = fmt.Sprintf("vol-0%016x", n)
				rec.Volumes = append(rec.Volumes, v)
			}
		}
	}
	out := filepath.Join(root, "overlays", "big")
	res, err := render.Render(m, rec, render.Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(out, lock), string(data))
	return out, res
}

func checkDir(t *testing.T, load func() (*Input, error), lockPath string) (*Report, *Input) {
	t.Helper()
	in, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.AddRecord(lockPath); err != nil {
		t.Fatal(err)
	}
	rep, err := engine(t).Check(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rep, in
}

// TestSplitOverlayIsOneInput: graft check of a split overlay's directory
// builds every root and checks them as one input (every PV, PVC and the
// StatefulSet), as LoadBuilds does with render's builds; LoadBuilt, given
// only one build, refuses it rather than check a part.
func TestSplitOverlayIsOneInput(t *testing.T) {
	out, res := splitOverlay(t, 120)
	roots := (120 + render.ShardMembers - 1) / render.ShardMembers
	if len(res.Builds) != roots+1 {
		t.Fatalf("%d roots, want %d storage roots and the workload", len(res.Builds), roots)
	}
	ctx := context.Background()
	rep, in := checkDir(t, func() (*Input, error) { return Load(ctx, []string{out}, nil) }, filepath.Join(out, lock))
	if len(rep.Findings) != 0 {
		t.Errorf("the split overlay has findings: %v", rep.Findings)
	}
	kinds := map[string]int{}
	for _, d := range in.Docs {
		k, _ := kindName(d.Contents)
		kinds[k]++
	}
	if kinds["PersistentVolume"] != 120 || kinds["PersistentVolumeClaim"] != 120 || kinds["StatefulSet"] != 1 || kinds["Kustomization"] != roots+1 {
		t.Errorf("the input holds %v; want 120 PVs and PVCs, the StatefulSet and %d kustomizations", kinds, roots+1)
	}
	_, built := checkDir(t, func() (*Input, error) { return LoadBuilds(out, res.Builds) }, filepath.Join(out, lock))
	if len(built.Docs) != len(in.Docs) {
		t.Errorf("LoadBuilds gives %d documents, Load %d", len(built.Docs), len(in.Docs))
	}
	if _, err := LoadBuilt(out, res.Built); err == nil || !strings.Contains(err.Error(), "storage-001") {
		t.Errorf("LoadBuilt of a split overlay with one build: %v, want an error naming the missing root", err)
	}
	if _, err := Load(ctx, []string{filepath.Join(out, "storage-002")}, nil); err == nil || !strings.Contains(err.Error(), "check "+out) {
		t.Errorf("Load of one storage root alone: %v, want an error naming the overlay to check", err)
	}
	partial := map[string][]byte{render.WorkloadRoot: res.Builds[render.WorkloadRoot], "storage-001": res.Builds["storage-001"], "storage-002": res.Builds["storage-002"], "storage-099": nil}
	if _, err := LoadBuilds(out, partial); err == nil {
		t.Error("LoadBuilds accepted the builds of some roots only")
	}
}

// TestSplitOverlayFindingsNameTheirRoot: a PV of one storage root whose
// zone disagrees with the record, and a PVC of another whose PV is in no
// root, are found, each naming its root's file.
func TestSplitOverlayFindingsNameTheirRoot(t *testing.T) {
	out, _ := splitOverlay(t, 120)
	pvFile := filepath.Join(out, "storage-002", render.PVFile)
	data, err := os.ReadFile(pvFile)
	if err != nil {
		t.Fatal(err)
	}
	// storage-002 holds a PV recorded in us-east-1c.
	if !bytes.Contains(data, []byte("- us-east-1c\n")) {
		t.Fatalf("%s has no us-east-1c zone", pvFile)
	}
	testkit.WriteFile(t, pvFile, strings.Replace(string(data), "- us-east-1c\n", "- us-east-1a\n", 1))
	// The last storage root's first claim names a PV no root has.
	last := render.StorageRoot((120 - 1) / render.ShardMembers)
	pvcFile := filepath.Join(out, last, render.PVCFile)
	data, err = os.ReadFile(pvcFile)
	if err != nil {
		t.Fatal(err)
	}
	broken := regexp.MustCompile(`volumeName: cassandra-data-cassandra-[0-9]+`).ReplaceAllLiteralString(string(data), "volumeName: cassandra-data-cassandra-999")
	if broken == string(data) {
		t.Fatalf("%s names no volume", pvcFile)
	}
	testkit.WriteFile(t, pvcFile, broken)
	rep, _ := checkDir(t, func() (*Input, error) { return Load(context.Background(), []string{out}, nil) }, filepath.Join(out, lock))
	files := map[string]bool{}
	for _, f := range rep.Findings {
		files[f.File] = true
		if f.Level == LevelDeny && !strings.HasPrefix(f.File, filepath.Join(out, "storage-00")) && f.File != filepath.Join(out, lock) {
			t.Errorf("finding %s names %s, not a storage root's file or the record", f.ID, f.File)
		}
	}
	for _, want := range []string{pvFile, pvcFile} {
		if !files[want] {
			t.Errorf("no finding names %s; findings: %v", want, rep.Findings)
		}
	}
}

// BenchmarkCheckRoots checks a split overlay of about 1,000 members × 2
// claim templates (the 6-node racks example grown to 334 members in each
// of its 3 StatefulSets: 21 storage roots and the workload) as one input:
// from the directory, every root built (graft check DIR); with render's
// builds at hand (graft publish and run); and conftest test --combine on
// the same documents (every root's build, the kustomizations, graft.lock).
// cpu-s/op is graft's CPU time of one check.
func BenchmarkCheckRoots(b *testing.B) {
	defer gctarget.Apply()()
	out, res := grownOverlay(b, "cassandra-6node-racks", "cassandra-racks", 334)
	lockPath := filepath.Join(out, lock)
	run := func(b *testing.B, load func() (*Input, error)) {
		benchLoadAndCheck(b, lockPath, load, func(rep *Report) {
			if rep.Count(LevelDeny) != 0 || rep.Objects < 4000 {
				b.Fatalf("%d denied over %d objects", rep.Count(LevelDeny), rep.Objects)
			}
		})
	}
	b.Run("dir", func(b *testing.B) {
		run(b, func() (*Input, error) { return Load(context.Background(), []string{out}, nil) })
	})
	b.Run("builds", func(b *testing.B) {
		run(b, func() (*Input, error) { return LoadBuilds(out, res.Builds) })
	})
	b.Run("conftest", func(b *testing.B) {
		bin := conftestPath(b)
		built := filepath.Join(b.TempDir(), "built.yaml")
		testkit.WriteFile(b, built, string(res.Built))
		files := []string{built, lockPath}
		for name := range res.Files {
			if filepath.Base(name) == render.KustomizationFile {
				files = append(files, filepath.Join(out, name))
			}
		}
		for b.Loop() {
			if out, err := exec.Command(bin, conftestArgs(files)...).CombinedOutput(); err != nil {
				b.Fatalf("conftest: %v\n%.2000s", err, out)
			}
		}
	})
}

// TestCheckFromInsideTheOverlay: the policies see each file by its path in
// its repository, so `graft check .` inside an overlay proves which
// directory the engine applies (GRAFT081) as `graft check overlays/x` from
// the repository root does; a finding still names the file as given.
func TestCheckFromInsideTheOverlay(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string // rule ids
	}{
		{filepath.Join("..", "..", "testdata", "policy", "pass", "flux-racks"), nil},
		{filepath.Join("..", "..", "testdata", "policy", "fail", "GRAFT081-flux-applies-another-directory"), []string{"GRAFT081"}},
	} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			t.Chdir(tc.dir)
			rep, _ := checkDir(t, func() (*Input, error) { return Load(context.Background(), []string{"."}, nil) }, lock)
			var ids []string
			for _, f := range rep.Findings {
				ids = append(ids, f.ID)
				if f.File != render.FluxFile {
					t.Errorf("finding %s names %q, want the file as given (%s)", f.ID, f.File, render.FluxFile)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("findings %v, want %v: %v", ids, tc.want, rep.Findings)
			}
		})
	}
}

// TestRepoPaths: a file's path for the policies is its path below the
// nearest directory holding .git (a repository's directory or a worktree's
// file), else its absolute path; stdin stays "-".
func TestRepoPaths(t *testing.T) {
	tmp := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(tmp, "repo", ".git"), 0o755))
	must(os.MkdirAll(filepath.Join(tmp, "worktree"), 0o755))
	testkit.WriteFile(t, filepath.Join(tmp, "worktree", ".git"), "gitdir: /elsewhere\n")
	t.Chdir(tmp)
	docs := []Document{
		{Path: "repo/overlays/x/kustomization.yaml"},
		{Path: "worktree/overlays/y/pv.yaml"},
		{Path: "plain/z/kustomization.yaml"},
		{Path: Stdin},
	}
	got := repoPaths(docs)
	abs, err := filepath.Abs("plain/z/kustomization.yaml")
	must(err)
	for p, want := range map[string]string{
		"repo/overlays/x/kustomization.yaml": "overlays/x/kustomization.yaml",
		"worktree/overlays/y/pv.yaml":        "overlays/y/pv.yaml",
		"plain/z/kustomization.yaml":         filepath.ToSlash(abs),
		Stdin:                                Stdin,
	} {
		if got[p] != want {
			t.Errorf("repoPaths[%s] = %q, want %q", p, got[p], want)
		}
	}
}
