package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// Suite-wide state, set up once by TestMain: one control plane for the whole
// suite (starting one takes seconds; the scenarios run one after another and
// each removes what it created).
var (
	cluster  *harness.Cluster
	applier  *harness.Applier
	repoRoot string // the graft repository (../.. of this module)
	graftBin string // graft built from repoRoot, or "" with graftErr set
	graftErr error
	// opsimBin is graft's internal/opsim/cmd/opsim, built from repoRoot
	// (or "" with opsimErr set): the StatefulSets the operators would
	// create, for TestWorkloadKinds (workload_test.go).
	opsimBin string
	opsimErr error
	zones    []string // zones with (self-managed EBS CSI) nodes
	// autoZones are the zones with EKS Auto Mode nodes: those of the
	// overlays' PVs of Auto Mode's driver.
	autoZones []string
)

var keepLogs = flag.Bool("keep-logs", false, "keep the control plane's directory (logs, certificates) even when the suite passes")

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	suiteStart := time.Now()
	var err error
	repoRoot, err = findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "graft-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}

	// graft itself, and the operators' simulation, from the repository
	// under test, built while the control plane starts (linking graft
	// takes longer than the start); the tests run once both are built.
	buildCtx, stopBuilds := context.WithCancel(context.Background())
	defer stopBuilds()
	built := make(chan struct{})
	go func() {
		defer close(built)
		graftBin, graftErr = buildFromRepo(buildCtx, tmp, "./cmd/graft")
		opsimBin, opsimErr = buildFromRepo(buildCtx, tmp, "./internal/opsim/cmd/opsim")
	}()

	// Zones: three in us-east-1, plus every zone an overlay's PVs name.
	zoneSet := map[string]bool{"us-east-1a": true, "us-east-1b": true, "us-east-1c": true}
	autoSet := map[string]bool{}
	for _, dir := range overlayDirs() {
		objs, err := harness.Kustomize(context.Background(), dir)
		if err != nil {
			continue // the overlay's own test reports it
		}
		for _, z := range overlayZonesOf(objs, harness.AutoModeDriver) {
			autoSet[z] = true
		}
		for _, z := range overlayZones(objs) {
			zoneSet[z] = true
			// Three zones in that region too, for wrong-zone scenarios.
			r := harness.RegionOf(z)
			for _, s := range "abc" {
				zoneSet[r+string(s)] = true
			}
		}
	}
	for z := range zoneSet {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for z := range autoSet {
		autoZones = append(autoZones, z)
	}
	sort.Strings(autoZones)

	kubecp := os.Getenv("GRAFT_E2E_KUBECP")
	if kubecp == "" {
		kubecp = filepath.Join(repoRoot, "testdata", "e2e", "bin", "kubecp")
	}
	dir := filepath.Join(tmp, "cluster")
	ctx := context.Background()
	t1 := time.Now()
	cluster, err = harness.Start(ctx, harness.Options{
		KubeCP: kubecp,
		Dir:    dir,
		Logf:   func(f string, a ...any) { fmt.Printf(f+"\n", a...) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: control plane did not start:", err)
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", dir)
		return 1
	}
	nctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = cluster.AddNodes(nctx, zones, 2)
	if err == nil {
		err = cluster.AddAutoModeNodes(nctx, autoZones, 2)
	}
	if err == nil {
		err = cluster.WaitNodesSchedulable(nctx, 30*time.Second)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: registering nodes:", err)
		cluster.Stop()
		fmt.Fprintln(os.Stderr, cluster.LogTails(40))
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", dir)
		return 1
	}
	cluster.StartKubeletStandIn(ctx)
	cluster.StartAttacherStandIn(ctx)
	if applier, err = cluster.NewApplier(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		cluster.Stop()
		return 1
	}
	fmt.Printf("e2e: TIMING warm start (control plane ready, %d self-managed EBS CSI nodes in zones %s, %d EKS Auto Mode nodes in zones %s): %s\n",
		2*len(zones), strings.Join(zones, ","), 2*len(autoZones), strings.Join(autoZones, ","), time.Since(t1).Round(time.Millisecond))

	<-built
	code := m.Run()

	if err := cluster.Healthy(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: a control-plane component died during the suite:", err)
		code = 1
	}
	t2 := time.Now()
	if err := cluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = 1
	} else {
		fmt.Printf("e2e: control plane stopped in %s (every process reaped, every port closed)\n", time.Since(t2).Round(time.Millisecond))
	}
	if code != 0 || *keepLogs {
		fmt.Fprintln(os.Stderr, cluster.LogTails(30))
		fmt.Fprintf(os.Stderr, "e2e: logs kept in %s (%s)\n", dir, strings.Join(cluster.LogPaths(), ", "))
	} else {
		os.RemoveAll(tmp)
	}
	fmt.Printf("e2e: TIMING suite (TestMain start to end): %s\n", time.Since(suiteStart).Round(time.Millisecond))
	return code
}

// buildFromRepo builds the command pkg of the graft repository into dir
// and returns its path, or "" and why not (which tests that need it
// report; the others run). The binary has no symbol table or DWARF
// (-s -w): linking graft's without them takes half the time, and a panic's
// stack trace does not need them.
func buildFromRepo(ctx context.Context, dir, pkg string) (string, error) {
	start := time.Now()
	bin := filepath.Join(dir, filepath.Base(pkg))
	build := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", bin, pkg)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		err = fmt.Errorf("go build %s in %s: %v\n%s", pkg, repoRoot, err, out)
		fmt.Fprintln(os.Stderr, "e2e: WARNING:", err, "(tests that need it will fail)")
		return "", err
	}
	fmt.Printf("e2e: built %s in %s\n", filepath.Base(pkg), time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// findRepoRoot returns the graft repository: $GRAFT_REPO, or the directory
// two levels above this module.
func findRepoRoot() (string, error) {
	root := os.Getenv("GRAFT_REPO")
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		root = filepath.Clean(filepath.Join(wd, "..", ".."))
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.Contains(string(data), "module github.com/graftctl/graft\n") {
		return "", fmt.Errorf("%s is not the graft repository (set GRAFT_REPO)", root)
	}
	return root, nil
}

// overlayDirs lists the example overlays: $GRAFT_E2E_OVERLAYS (a
// colon-separated list of directories) or every REPO/overlays/*/ with a
// kustomization.yaml.
func overlayDirs() []string {
	if v := os.Getenv("GRAFT_E2E_OVERLAYS"); v != "" {
		return strings.Split(v, ":")
	}
	matches, _ := filepath.Glob(filepath.Join(repoRoot, "overlays", "*", "kustomization.yaml"))
	var dirs []string
	for _, m := range matches {
		if isWorkloadOverlay(filepath.Dir(m)) {
			continue // an operator's or chart's: TestWorkloadKinds (workload_test.go)
		}
		dirs = append(dirs, filepath.Dir(m))
	}
	sort.Strings(dirs)
	return dirs
}
