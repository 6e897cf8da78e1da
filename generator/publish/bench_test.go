package publish

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/check"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/gctarget"
)

// large returns the example migration grown to n members.
func large(t testing.TB, repo string, n int) (*spec.Migration, *record.Record) {
	m, rec := example(t, repo)
	m.Spec.Target.StatefulSets[0].Replicas = n
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	tmpl := rec.Volumes[0]
	rec.Volumes = nil
	for i := range n {
		v := tmpl
		v.Ordinal = i
		v.SourceInstance = fmt.Sprintf("i-%017x", 0xa000+i)
		v.SourceVolume = fmt.Sprintf("vol-%017x", 0xb000+i)
		v.TargetVolume = fmt.Sprintf("vol-%017x", 0xc000+i)
		v.SourceZone, v.TargetZone = zones[i%3], zones[i%3]
		v.Snapshots = map[string]string{spec.PhasePrecopy: fmt.Sprintf("snap-%017x", 0xd000+i)}
		rec.Volumes = append(rec.Volumes, v)
	}
	return m, rec
}

// largeRemote is a fresh remote (with a git identity) and the example
// grown to n members pointed at it; short tests (what says what) skip it.
func largeRemote(t *testing.T, n int, what string) (*gitopsRemote, *spec.Migration, *record.Record) {
	t.Helper()
	if testing.Short() {
		t.Skip(what)
	}
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := large(t, r.bare, n)
	return r, m, rec
}

// policyGate is graft's policy check as `graft publish` runs it (cmd/graft
// adapts generator/check the same way): on the overlay's build output and
// the graft.lock written beside it.
type policyGate struct{}

func (policyGate) Check(ctx context.Context, dir string, builds map[string][]byte, _ *record.Record) (Verdict, error) {
	rep, _, err := check.LoadAndCheck(ctx, func() (*check.Input, error) {
		in, err := check.LoadBuilds(dir, builds)
		if err != nil {
			return nil, err
		}
		_, err = in.AddRecord(filepath.Join(dir, record.DefaultFile))
		return in, err
	})
	if err != nil {
		return Verdict{}, err
	}
	return Verdict{Denies: rep.Count(check.LevelDeny), Warns: rep.Count(check.LevelWarn)}, nil
}

// BenchmarkPublish publishes overlays of 100 and 1,000 members (one device
// each: 200 and 2,000 PersistentVolumes and claims) to a local bare remote:
// render (with the kustomize build of every root: 1,000 members are 20
// storage roots and the workload, see render.ShardMembers), graft.lock,
// the policy check on every root's build, commit and push. The issue's
// target is under 3 s for 1,000 members, excluding the network; the
// metrics split the time into render, check and git.
func BenchmarkPublish(b *testing.B) {
	defer gctarget.Apply()()
	hermeticGit(b, true)
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			var sum Timings
			runs := 0
			for b.Loop() {
				b.StopTimer()
				r := newRemote(b)
				m, rec := large(b, r.bare, n)
				b.StartTimer()
				res, err := Publish(context.Background(), m, rec, Options{Checker: policyGate{}})
				if err != nil {
					b.Fatal(err)
				}
				if !res.Pushed {
					b.Fatalf("nothing pushed: %+v", res)
				}
				sum.Render += res.Timings.Render
				sum.Check += res.Timings.Check
				sum.Git += res.Timings.Git
				runs++
			}
			b.ReportMetric(sum.Render.Seconds()/float64(runs), "s-render/op")
			b.ReportMetric(sum.Check.Seconds()/float64(runs), "s-check/op")
			b.ReportMetric(sum.Git.Seconds()/float64(runs), "s-git/op")
		})
	}
}

// TestPublishLarge checks a 300-member publish end to end (the body is
// bounded, the record complete); the time of 1,000 is the benchmark's
// business.
func TestPublishLarge(t *testing.T) {
	r, m, rec := largeRemote(t, 300, "large publish")
	prov := &fakeProvider{}
	start := time.Now()
	res, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, NewProvider: func(string) (Provider, error) { return prov, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("300-member publish to a local bare remote: %v", time.Since(start))
	if !res.Pushed || len(prov.calls) != 1 {
		t.Fatalf("result %+v", res)
	}
	if body := prov.calls[0].spec.Body; len(body) > 60000 || !containsAll(body, "150 more", "graft.lock") {
		t.Errorf("body of %d bytes; want it bounded, with a pointer to graft.lock", len(body))
	}
	if lock := r.show(t, branch, "overlays/cassandra-3node/graft.lock"); !containsAll(lock, fmt.Sprintf("vol-%017x", 0xc000+299)) {
		t.Error("graft.lock in the branch lacks the last member")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
