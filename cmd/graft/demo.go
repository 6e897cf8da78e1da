package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/atomic"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "run the whole pipeline offline: a simulated EC2 cluster into a local GitOps repository",
		usage:   "demo [--workdir DIR] [--kind " + strings.Join(spec.WorkloadKinds, "|") + "] [--cross-account]",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			workdir := fs.String("workdir", "", "where the demo leaves everything it makes (default: a new temporary directory)")
			kind := fs.String("kind", spec.WorkloadStatefulSet, "the target workload: "+strings.Join(spec.WorkloadKinds, ", ")+" (spec.target.workload.kind)")
			xacct := fs.Bool("cross-account", false, "the EKS side in a second (simulated) AWS account: share, copy under its key, unshare")
			return func(ctx context.Context, e *env, args []string) error {
				k, ok := demoKinds[*kind]
				if !ok {
					return usagef("--kind %q: expected one of %s", *kind, strings.Join(spec.WorkloadKinds, ", "))
				}
				return runDemo(ctx, e, *workdir, k, *xacct)
			}
		},
	}
}

func runDemo(ctx context.Context, e *env, workdir string, k demoKind, crossAccount bool) error {
	start := time.Now()
	workdir, release, err := demoWorkdir(ctx, e, workdir, k.migration)
	if err != nil {
		return err
	}
	defer release()

	e.stage(fmt.Sprintf("the legacy cluster: 3 %s nodes on EC2 (graft's in-process simulator), one per zone", k.app))
	sim := ec2sim.New(ec2sim.Options{Region: "us-east-1"})
	x := newDemoXAccount(crossAccount, sim)
	cluster, err := sim.SeedCluster(x.cluster(ec2sim.ClusterSpec{Name: k.nodeName, Nodes: 3}))
	if err != nil {
		return err
	}
	for _, n := range cluster.Nodes {
		e.log.Info("legacy node", "name", n.Name, "instance", n.InstanceID, "zone", n.Zone, "volume", n.DataVolumes["/dev/xvdf"])
	}

	what := ""
	if k.repo != "" {
		what = " (" + k.baseWhat + ")"
	}
	e.stage("the GitOps repository: a bare repo whose main branch holds " + k.baseDir + what)
	repo := filepath.Join(workdir, "gitops.git")
	if err := seedDemoRepoOf(ctx, workdir, repo, k); err != nil {
		return fmt.Errorf("demo repository: %w", err)
	}

	specPath := filepath.Join(workdir, spec.DefaultFile)
	if err := atomic.WriteFileContext(ctx, specPath, x.spec(specWithRepo(k.spec, repo)), 0o644); err != nil {
		return err
	}
	e.specPath, e.lockPath = specPath, ""
	m, err := spec.LoadContext(ctx, specPath)
	if err != nil {
		return err
	}
	eng := ebs.New(m, x.options(ebs.Options{Source: sim, Clock: sim.Clock(), Log: e.log}))
	p := &pipeline{stages: newStages(e, m, eng, nil, "demo"), yes: true}
	res, err := p.run(ctx)
	if err != nil {
		return err
	}
	if untouched := sim.MutatingCallsOn(cluster.SourceIDs()...); len(untouched) > 0 {
		return fmt.Errorf("the demo changed a source volume or instance (%d calls); this is a bug", len(untouched))
	}
	if err := x.check(cluster); err != nil {
		return err
	}
	d := demoResult{workdir: workdir, specPath: specPath, repo: repo, m: m, res: res, start: start, simulated: sim.Elapsed()}
	return d.print(ctx, e)
}

// demoWorkdir makes workdir (a new temporary directory if "") and takes
// its lock: two demos into one workdir, the second is refused by the lock,
// not merged into the first. It must be empty.
func demoWorkdir(ctx context.Context, e *env, workdir, migration string) (string, func(), error) {
	if workdir == "" {
		dir, err := os.MkdirTemp("", "graft-demo-")
		if err != nil {
			return "", nil, err
		}
		workdir = dir
	}
	workdir, err := filepath.Abs(workdir)
	if err != nil {
		return "", nil, err
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return "", nil, err
	}
	lockPath := lock.Path(filepath.Join(workdir, record.DefaultFile))
	l, err := acquireLock(e, lockPath, lock.Holder{Migration: migration, Command: "demo"})
	if err != nil {
		return "", nil, err
	}
	entries, err := os.ReadDir(workdir)
	if err != nil {
		l.Release()
		return "", nil, err
	}
	for _, en := range entries {
		if en.Name() != filepath.Base(lockPath) {
			l.Release()
			return "", nil, fmt.Errorf("--workdir %s is not empty; the demo needs an empty or new directory", termtext.Value(workdir))
		}
	}
	return workdir, func() { _ = l.Release() }, nil
}

// demoResult is what the demo made, for its summary.
type demoResult struct {
	workdir, specPath, repo string
	m                       *spec.Migration
	res                     *pipelineResult
	start                   time.Time
	simulated               time.Duration
}

// print checks the branch out beside the repository, keeps the pull
// request's description (the demo has no forge) and prints the summary.
func (d demoResult) print(ctx context.Context, e *env) error {
	checkout := filepath.Join(d.workdir, "gitops")
	branch := publish.Branch(d.m.Metadata.Name)
	if err := git(ctx, d.workdir, "clone", "--quiet", "--branch", branch, d.repo, checkout); err != nil {
		return err
	}
	overlay := filepath.Join(checkout, filepath.FromSlash(d.m.Spec.GitOps.OverlayPath))
	pub := d.res.published
	body := filepath.Join(d.workdir, "pull-request.md")
	if err := atomic.WriteFileContext(ctx, body, []byte(pub.Body), 0o644); err != nil {
		return err
	}
	// The paths are the workdir's (--workdir, or TMPDIR's), quoted when
	// a terminal would act on them (termtext.Value).
	v := termtext.Value
	fmt.Fprintf(e.stdout, `
graft demo finished in %s (simulated EC2 time: %s).

  spec        %s
  inventory   %s
  record      %s
  repository  %s
  branch      %s (commit %s)
  overlay     %s
  verdict     %s
  PR body     %s

Look around:
  git -C %s log --stat %s
  kubectl kustomize %s
  %s check %s

With real AWS:
  graft init                       # a commented spec: filters, devices, mapping, StatefulSets, repo
  graft discover && graft plan     # read-only: what is there and what would be created
  graft run                        # clone, render, check and open the pull request (asks first)
  graft iam-policy                 # the least-privilege IAM policy for the spec
`, time.Since(d.start).Round(time.Millisecond), d.simulated.Round(time.Second),
		v(d.specPath), v(d.res.inventoryPath), v(d.res.recordPath), v(d.repo), v(branch), publish.ShortCommit(pub.Commit), v(overlay),
		verdictLine(pub.Verdict), v(body), v(d.repo), v(branch), v(overlay), v(selfCommand(os.Args[0], os.Executable, exec.LookPath)), v(overlay))
	return nil
}

// selfCommand is how the user's shell runs this graft again, for the
// commands the demo suggests: "graft", unless this binary was started by a
// path (make demo runs bin/graft) and "graft" on PATH is not it, or there
// is none; then the path it was started by. A binary of another name (a
// test binary) says "graft".
func selfCommand(arg0 string, executable func() (string, error), lookPath func(string) (string, error)) string {
	if filepath.Base(arg0) != "graft" || !strings.ContainsRune(arg0, filepath.Separator) {
		return "graft"
	}
	self, err := executable()
	if err != nil {
		return "graft"
	}
	if onPath, err := lookPath("graft"); err == nil && sameFile(onPath, self) {
		return "graft"
	}
	return arg0
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func verdictLine(v publish.Verdict) string {
	if v.Denied() {
		return fmt.Sprintf("denied (%d)", v.Denies)
	}
	return fmt.Sprintf("pass (%d denied, %d warnings) — %s", v.Denies, v.Warns, v.Source)
}

// seedDemoRepo creates the bare repository and commits the demo base to its
// main branch, through a scratch clone.
func seedDemoRepo(ctx context.Context, workdir, repo string) error {
	return seedDemoRepoOf(ctx, workdir, repo, demoKinds[spec.WorkloadStatefulSet])
}

// seedDemoRepoOf is seedDemoRepo with the base of the demo kind k.
func seedDemoRepoOf(ctx context.Context, workdir, repo string, k demoKind) error {
	if err := git(ctx, workdir, "init", "--quiet", "--bare", "--initial-branch=main", repo); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(workdir, ".seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := git(ctx, scratch, "init", "--quiet", "--initial-branch=main"); err != nil {
		return err
	}
	if err := os.CopyFS(scratch, k.base()); err != nil {
		return err
	}
	readme := "# GitOps repository (graft demo)\n\n`" + k.baseDir + "` is the " + k.baseWhat + "; graft adds overlays under `overlays/`.\n"
	if err := os.WriteFile(filepath.Join(scratch, "README.md"), []byte(readme), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"add", "."},
		{"-c", "user.name=graft demo", "-c", "user.email=demo@graft.invalid", "commit", "--quiet", "-m", "base: " + k.baseWhat},
		{"push", "--quiet", repo, "main"},
	} {
		if err := git(ctx, scratch, args...); err != nil {
			return err
		}
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		// The arguments name the workdir's paths, and git's words repeat
		// them: one escaped line (termtext.Line).
		return errors.New(termtext.Line(fmt.Sprintf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))))
	}
	return nil
}

// specWithRepo is a demo spec with spec.gitops.repo set to repo, written by
// the YAML encoder: a path is data, whatever it holds (": ", " #", quotes).
func specWithRepo(specText, repo string) []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(specText), &doc); err != nil {
		panic(err) // the demo specs are fixed at build time
	}
	node := &doc
	for _, key := range []string{"spec", "gitops", "repo"} {
		node = mappingValue(node, key)
	}
	node.SetString(repo)
	node.LineComment = ""
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		panic(err) // a string always encodes
	}
	return b.Bytes()
}

// mappingValue is the value of key in the mapping n (or the document n
// holds); it panics if there is none, as the demo specs are fixed at
// build time.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	panic("the demo spec has no " + key)
}
