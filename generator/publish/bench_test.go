package publish

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
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

// BenchmarkPublish1000 publishes a 1,000-member overlay to a local bare
// remote: render (with the kustomize build), graft.lock, check (the
// kustomize build again, as the real check does), commit and push. The
// target is under 5 s per publish, excluding the network.
func BenchmarkPublish1000(b *testing.B) {
	hermeticGit(b, true)
	for b.Loop() {
		b.StopTimer()
		r := newRemote(b)
		m, rec := large(b, r.bare, 1000)
		b.StartTimer()
		start := time.Now()
		res, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Pushed {
			b.Fatalf("nothing pushed: %+v", res)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/publish")
	}
}

// TestPublish1000 checks the 1,000-member publish end to end (the body is
// bounded, the record complete); its time is the benchmark's business.
func TestPublish1000(t *testing.T) {
	if testing.Short() {
		t.Skip("large publish")
	}
	hermeticGit(t, true)
	r := newRemote(t)
	m, rec := large(t, r.bare, 1000)
	prov := &fakeProvider{}
	start := time.Now()
	res, err := Publish(context.Background(), m, rec, Options{Checker: &buildChecker{}, NewProvider: func(string) (Provider, error) { return prov, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000-member publish to a local bare remote: %v", time.Since(start))
	if !res.Pushed || len(prov.calls) != 1 {
		t.Fatalf("result %+v", res)
	}
	if body := prov.calls[0].spec.Body; len(body) > 60000 || !containsAll(body, "850 more", "graft.lock") {
		t.Errorf("body of %d bytes; want it bounded, with a pointer to graft.lock", len(body))
	}
	if lock := r.show(t, branch, "overlays/cassandra-3node/graft.lock"); !containsAll(lock, fmt.Sprintf("vol-%017x", 0xc000+999)) {
		t.Error("graft.lock in the branch lacks the last member")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !contains(s, sub) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool { return len(sub) == 0 || (len(s) >= len(sub) && index(s, sub) >= 0) }

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
