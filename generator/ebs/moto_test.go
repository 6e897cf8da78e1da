package ebs_test

// The wire test: graft's engine through the real SDK over HTTP against
// moto server. moto ignores ClientToken, has no Fast Snapshot Restore,
// completes snapshots at once and never throttles; those behaviours are
// tested against the simulator (generator/ec2sim) in sim_test.go.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ebs/ebstest"
	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/render"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/internal/testkit"
)

const targetKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestMotoDiscoverPlanCloneRender(t *testing.T) {
	counter := ebs.NewCallCounter()
	// A bound, not a speed target.
	ctx, client, cl := motoCluster(t, 2*time.Minute, ebs.ClientOptions{Counter: counter})
	// Filters that match another application's instances: the mapping
	// names the instance that does not fit.
	other, err := spec.Parse([]byte(ebstest.SpecYAML("other", "other", targetKey)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ebs.New(other, ebs.Options{Source: client}).Discover(ctx); err == nil || !strings.Contains(err.Error(), ebs.ProblemUnmapped) || !strings.Contains(err.Error(), "kafka-0") {
		t.Fatalf("discover with another application's filter: %v", err)
	}

	sourceBefore := describeVolumes(t, ctx, client, append(cl.DataVolumes, cl.OtherVolumes...))

	dir := t.TempDir()
	specPath := filepath.Join(dir, "graft.yaml")
	testkit.WriteFile(t, specPath, ebstest.SpecYAML("cassandra-moto", "prod", targetKey))
	testkit.CopyDir(t, filepath.Join("..", "..", "testdata", "bases", "cassandra-racks"), filepath.Join(dir, "base", "cassandra-racks"))
	m, err := spec.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	eng := ebs.New(m, ebs.Options{Source: client, PollInterval: 100 * time.Millisecond, Log: testLogger(t)})

	// discover
	inv := discover(t, ctx, eng)
	if len(inv.Members) != 6 {
		t.Fatalf("discover: %d members, want 6", len(inv.Members))
	}
	for i, mb := range inv.Members {
		if want := cl.Instances[i]; mb.Instance != want {
			t.Errorf("member %s is %s, want %s", mb.Key(), mb.Instance, want)
		}
		if len(mb.Devices) != 2 || mb.Devices[0].SizeGiB != 1024 || mb.Devices[1].SizeGiB != 100 || !mb.Devices[0].Encrypted || mb.Devices[0].KMSKeyID != ebstest.SourceKey {
			t.Errorf("member %s devices: %+v", mb.Key(), mb.Devices)
		}
	}
	var text strings.Builder
	if err := inv.WriteText(&text); err != nil || !strings.Contains(text.String(), "prod-dc1-r3-sts/1") {
		t.Errorf("inventory text: %v\n%s", err, text.String())
	}

	// plan: a different KMS key, so every snapshot is copied.
	before := counter.Calls()
	plan, err := eng.Plan(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if plan.ToCreate[ownership.RoleSnapshot] != 24 || plan.ToCreate[ownership.RoleCopy] != 24 || plan.ToCreate[ownership.RoleVolume] != 12 {
		t.Errorf("plan creates %v, want 24 snapshots, 24 copies, 12 volumes", plan.ToCreate)
	}
	if got := counter.Calls(); got["CreateSnapshot"]+got["CreateSnapshots"]+got["CreateVolume"]+got["CopySnapshot"] != before["CreateVolume"] {
		t.Fatalf("plan made mutating calls: %v", got)
	}

	// clone, both phases, through the SDK over HTTP.
	lock := filepath.Join(dir, "graft.lock")
	for _, phase := range []string{spec.PhasePrecopy, spec.PhaseFinal} {
		var rec *record.Record
		if phase == spec.PhaseFinal {
			rec = record.New(m)
		}
		res, err := eng.Clone(ctx, inv, ebs.CloneOptions{Phase: phase, Record: rec, RecordPath: lock})
		if err != nil {
			t.Fatalf("clone %s: %v", phase, err)
		}
		t.Logf("clone %s created %v", phase, res.Created)
	}
	rec, err := record.Load(lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Volumes) != 12 {
		t.Fatalf("record has %d volumes, want 12", len(rec.Volumes))
	}

	// A re-run creates nothing: everything is found by tag.
	res, err := eng.Clone(ctx, inv, ebs.CloneOptions{Phase: spec.PhaseFinal, Record: rec, RecordPath: lock})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 {
		t.Errorf("re-run created %v, want nothing", res.Created)
	}

	// render, and check the overlay against what moto holds.
	out := filepath.Join(dir, "overlays", m.Metadata.Name)
	rr, err := render.Render(m, rec, render.Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	pvs := parsePVs(t, rr.Files[render.PVFile])
	if len(pvs) != 12 {
		t.Fatalf("overlay has %d PVs, want 12", len(pvs))
	}
	var ids []string
	for _, pv := range pvs {
		ids = append(ids, pv.Spec.CSI.VolumeHandle)
	}
	vols := describeVolumes(t, ctx, client, ids)
	for _, pv := range pvs {
		v := vols[pv.Spec.CSI.VolumeHandle]
		tags := tagMap(v.Tags)
		claim := pv.Spec.ClaimRef.Name
		zone := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0]
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		switch {
		case aws.ToString(v.AvailabilityZone) != zone:
			t.Errorf("PV %s: node affinity %s, volume in %s", pv.Name, zone, aws.ToString(v.AvailabilityZone))
		case size.Value() > int64(aws.ToInt32(v.Size))<<30:
			t.Errorf("PV %s: capacity %s > volume %d GiB", pv.Name, size.String(), aws.ToInt32(v.Size))
		case claim != tags[ownership.TagClaimTemplate]+"-"+strings.Replace(tags[ownership.TagMember], "/", "-", 1):
			t.Errorf("PV %s: claim %s, volume tags %v", pv.Name, claim, tags)
		case !aws.ToBool(v.Encrypted) || aws.ToString(v.KmsKeyId) != targetKey:
			t.Errorf("PV %s: volume encrypted=%v key=%s", pv.Name, aws.ToBool(v.Encrypted), aws.ToString(v.KmsKeyId))
		case v.VolumeType != types.VolumeTypeGp3 || aws.ToInt32(v.Iops) != 6000 || aws.ToInt32(v.Throughput) != 500:
			t.Errorf("PV %s: volume %s %d IOPS %d MiB/s", pv.Name, v.VolumeType, aws.ToInt32(v.Iops), aws.ToInt32(v.Throughput))
		case tags[ownership.TagMigration] != m.Metadata.Name || tags["team"] != "data-platform" || tags[ownership.TagRole] != ownership.RoleVolume:
			t.Errorf("PV %s: volume tags %v", pv.Name, tags)
		}
		if zone != map[string]string{"prod-dc1-r1-sts": "us-east-1a", "prod-dc1-r2-sts": "us-east-1b", "prod-dc1-r3-sts": "us-east-1c"}[strings.SplitN(tags[ownership.TagMember], "/", 2)[0]] {
			t.Errorf("PV %s in zone %s", pv.Name, zone)
		}
	}

	// cleanup deletes graft's snapshots and keeps the recorded volumes.
	cp, err := eng.PlanCleanup(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Delete) != 48 {
		t.Errorf("cleanup would delete %d resources, want the 48 snapshots and copies", len(cp.Delete))
	}
	for _, it := range cp.Delete {
		if it.Kind != "snapshot" {
			t.Errorf("cleanup would delete %s %s", it.Kind, it.ID)
		}
	}
	if _, err := eng.Cleanup(ctx, cp); err != nil {
		t.Fatal(err)
	}
	left, err := client.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{{Name: aws.String("tag:graft:migration"), Values: []string{m.Metadata.Name}}}})
	switch {
	case err != nil:
		t.Errorf("after cleanup: %v", err)
	case len(left.Snapshots) != 0:
		t.Errorf("after cleanup: %d graft snapshots left", len(left.Snapshots))
	}
	if got := describeVolumes(t, ctx, client, ids); len(got) != 12 {
		t.Errorf("cleanup removed recorded volumes: %d left", len(got))
	}

	// The source is untouched: same volumes, same attachments, no tags.
	after := describeVolumes(t, ctx, client, append(cl.DataVolumes, cl.OtherVolumes...))
	for id, b := range sourceBefore {
		a := after[id]
		if len(a.Attachments) != 1 || aws.ToString(a.Attachments[0].InstanceId) != aws.ToString(b.Attachments[0].InstanceId) || len(a.Tags) != len(b.Tags) || aws.ToInt32(a.Size) != aws.ToInt32(b.Size) {
			t.Errorf("source volume %s changed: %+v -> %+v", id, b, a)
		}
	}
	t.Logf("wire calls: %s", ebs.FormatCounts(counter.Calls()))
}

func describeVolumes(t *testing.T, ctx context.Context, c ebs.EC2, ids []string) map[string]types.Volume {
	t.Helper()
	out, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]types.Volume{}
	for _, v := range out.Volumes {
		m[aws.ToString(v.VolumeId)] = v
	}
	return m
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func parsePVs(t *testing.T, data []byte) []corev1.PersistentVolume {
	t.Helper()
	var out []corev1.PersistentVolume
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var pv corev1.PersistentVolume
		if err := yaml.Unmarshal([]byte(doc), &pv); err != nil {
			t.Fatal(err)
		}
		if pv.Kind == "PersistentVolume" {
			out = append(out, pv)
		}
	}
	return out
}

// TestMotoStoppedInstanceRefused is the observed case against moto, which
// keeps only the last of two filters named instance-state-name.
func TestMotoStoppedInstanceRefused(t *testing.T) {
	ctx, client, cl := motoCluster(t, 50*time.Second, ebs.ClientOptions{})
	stop := cl.Instances[0]
	if _, err := client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stop}}); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(ebstest.SpecYAML("cassandra-moto", "prod", ""), "        values: [prod]\n", "        values: [prod]\n      - name: instance-state-name\n        values: [stopped]\n", 1)
	m, err := spec.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Spec.Source.Filters) != 2 {
		t.Fatalf("filters: %+v", m.Spec.Source.Filters)
	}
	_, err = ebs.New(m, ebs.Options{Source: client}).Discover(ctx)
	if err == nil {
		t.Fatal("discover accepted a stopped instance")
	}
	for _, want := range []string{ebs.ProblemNotRunning, stop, "is stopped, not running", "remove spec.source.filters[1] (instance-state-name=stopped)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
}

// TestMotoCloneKeepsSourceKey is the observed case: without
// spec.target.volume.kmsKeyId, moto gave the new volumes its default key
// (CreateVolume carried no KmsKeyId and moto drops the snapshot's). graft
// now sends the source's key and checks every new volume's key.
func TestMotoCloneKeepsSourceKey(t *testing.T) {
	ctx, client, _ := motoCluster(t, 50*time.Second, ebs.ClientOptions{})
	m, err := spec.Parse([]byte(ebstest.SpecYAML("cassandra-moto", "prod", "")))
	if err != nil {
		t.Fatal(err)
	}
	if m.Spec.Target.Volume.KMSKeyID != "" {
		t.Fatalf("spec has a key: %q", m.Spec.Target.Volume.KMSKeyID)
	}
	eng := ebs.New(m, ebs.Options{Source: client, PollInterval: 100 * time.Millisecond, Log: testLogger(t)})
	inv := discover(t, ctx, eng)
	rec := record.New(m)
	if _, err := eng.Clone(ctx, inv, ebs.CloneOptions{Phase: spec.PhaseFinal, Record: rec}); err != nil {
		t.Fatal(err)
	}
	if len(rec.Volumes) != 12 {
		t.Fatalf("record has %d volumes", len(rec.Volumes))
	}
	var ids []string
	for _, v := range rec.Volumes {
		ids = append(ids, v.TargetVolume)
		if !kmskey.Same(v.KMSKeyID, ebstest.SourceKey) {
			t.Errorf("%s: recorded key %s, want the source's %s", v.ClaimName(), v.KMSKeyID, ebstest.SourceKey)
		}
	}
	for id, v := range describeVolumes(t, ctx, client, ids) {
		if !aws.ToBool(v.Encrypted) || !kmskey.Same(aws.ToString(v.KmsKeyId), ebstest.SourceKey) {
			t.Errorf("volume %s: encrypted=%v key=%s, want the source's %s", id, aws.ToBool(v.Encrypted), aws.ToString(v.KmsKeyId), ebstest.SourceKey)
		}
	}
}

// motoCluster starts moto and seeds the legacy cluster (ebstest.Seed)
// through a us-east-1 client made with opts. It returns a context bounded
// by timeout, the client and the cluster.
func motoCluster(t *testing.T, timeout time.Duration, opts ebs.ClientOptions) (context.Context, *ec2.Client, ebstest.Cluster) {
	t.Helper()
	ebstest.StartMoto(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	opts.Region = "us-east-1"
	client, err := ebs.NewClient(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ebstest.Seed(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, client, cl
}

// motoClusterSpec is ebstest.SpecYAML with spec.target.cluster prod-eks
// and driver ("" : none); Auto Mode takes its own topology key.
func motoClusterSpec(t *testing.T, name, driver string) *spec.Migration {
	t.Helper()
	y := ebstest.SpecYAML(name, "prod", "")
	if driver != "" {
		y = strings.Replace(y, "    namespace: cassandra\n", "    namespace: cassandra\n    cluster: {name: prod-eks, storageDriver: "+driver+"}\n", 1)
	}
	if driver == spec.StorageDriverAutoMode {
		y = strings.Replace(y, "    topologyKey: topology.ebs.csi.aws.com/zone\n", "", 1)
	}
	m, err := spec.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMotoClusterTags: through the SDK over HTTP, clone with
// spec.target.cluster tags every new volume as the driver needs (for both
// drivers), a volume an earlier run made without them is tagged on the
// next run (CreateTags, once) and recorded, a volume of another cluster is
// refused with its tags left alone, and the source volumes' tags never
// change.
func TestMotoClusterTags(t *testing.T) {
	counter := ebs.NewCallCounter()
	ctx, client, cl := motoCluster(t, 2*time.Minute, ebs.ClientOptions{Counter: counter})
	sources := append(append([]string{}, cl.DataVolumes...), cl.OtherVolumes...)
	sourceBefore := describeVolumes(t, ctx, client, sources)
	want := map[string]map[string]string{
		spec.StorageDriverEBSCSI:   {spec.TagEBSCSICluster: "true", spec.TagEBSCSIClusterName: "prod-eks"},
		spec.StorageDriverAutoMode: {spec.TagEKSClusterName: "prod-eks"},
	}
	clone := func(t *testing.T, m *spec.Migration) (*record.Record, error) {
		t.Helper()
		eng := ebs.New(m, ebs.Options{Source: client, PollInterval: 100 * time.Millisecond, Log: testLogger(t)})
		inv := discover(t, ctx, eng)
		rec := record.New(m)
		_, err := eng.Clone(ctx, inv, ebs.CloneOptions{Phase: spec.PhaseFinal, Record: rec})
		return rec, err
	}
	// assertTagged checks the record's volumes as moto holds them.
	assertTagged := func(t *testing.T, rec *record.Record, want map[string]string) []string {
		t.Helper()
		var ids []string
		for _, v := range rec.Volumes {
			ids = append(ids, v.TargetVolume)
			if !maps.Equal(v.ClusterTags, want) {
				t.Errorf("record %s: clusterTags %v, want %v", v.ClaimName(), v.ClusterTags, want)
			}
		}
		for id, v := range describeVolumes(t, ctx, client, ids) {
			tags := tagMap(v.Tags)
			for k, val := range want {
				if tags[k] != val {
					t.Errorf("volume %s: tag %s=%q, want %q (tags %v)", id, k, tags[k], val, tags)
				}
			}
		}
		return ids
	}

	for _, driver := range spec.StorageDrivers {
		t.Run("new volumes "+driver, func(t *testing.T) {
			rec, err := clone(t, motoClusterSpec(t, "tags-"+driver, driver))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Volumes) != 12 {
				t.Fatalf("record has %d volumes", len(rec.Volumes))
			}
			assertTagged(t, rec, want[driver])
		})
	}

	for _, driver := range spec.StorageDrivers {
		t.Run("reused volumes "+driver, func(t *testing.T) {
			name := "later-" + driver
			rec, err := clone(t, motoClusterSpec(t, name, ""))
			if err != nil {
				t.Fatal(err)
			}
			ids := assertTagged(t, rec, nil)
			for id, v := range describeVolumes(t, ctx, client, ids) {
				if tags := tagMap(v.Tags); tags[spec.TagEBSCSICluster] != "" || tags[spec.TagEBSCSIClusterName] != "" || tags[spec.TagEKSClusterName] != "" {
					t.Fatalf("volume %s made without target.cluster has its tags: %v", id, tags)
				}
			}
			m := motoClusterSpec(t, name, driver)
			p := discoverAndPlan(t, ctx, ebs.New(m, ebs.Options{Source: client, Log: testLogger(t)}))
			if p.Retag != 12 || p.Calls["CreateTags"] != 12 || p.ToCreate[ownership.RoleVolume] != 0 {
				t.Errorf("plan: retag %d, CreateTags %d, volumes to create %d; want 12, 12, 0", p.Retag, p.Calls["CreateTags"], p.ToCreate[ownership.RoleVolume])
			}
			before := counter.Calls()["CreateTags"]
			rec, err = clone(t, m)
			if err != nil {
				t.Fatal(err)
			}
			// 12 calls and the DryRun proof.
			if n := counter.Calls()["CreateTags"] - before; n != 13 {
				t.Errorf("clone made %d CreateTags calls, want 13 (12 and the DryRun proof)", n)
			}
			if got := assertTagged(t, rec, want[driver]); !sameSet(got, ids) {
				t.Errorf("clone recorded %v, want the earlier run's %v", got, ids)
			}
			before = counter.Calls()["CreateTags"]
			if _, err := clone(t, m); err != nil {
				t.Fatal(err)
			}
			if n := counter.Calls()["CreateTags"] - before; n != 0 {
				t.Errorf("a re-run made %d CreateTags calls, want none", n)
			}

			// The same volumes for another cluster: refused, tags unchanged.
			other := motoClusterSpec(t, name, driver)
			other.Spec.Target.Cluster.Name = "blue"
			tagsBefore := describeVolumes(t, ctx, client, ids)
			_, err = clone(t, other)
			nameTag := map[string]string{spec.StorageDriverEBSCSI: spec.TagEBSCSIClusterName, spec.StorageDriverAutoMode: spec.TagEKSClusterName}[driver]
			if !errors.Is(err, ebs.ErrMembersFailed) || !strings.Contains(err.Error(), fmt.Sprintf(`tags[%q]: found "prod-eks", expected "blue"`, nameTag)) {
				t.Fatalf("clone for another cluster: %v", err)
			}
			for id, v := range describeVolumes(t, ctx, client, ids) {
				if !maps.Equal(tagMap(v.Tags), tagMap(tagsBefore[id].Tags)) {
					t.Errorf("refused volume %s: tags %v -> %v", id, tagMap(tagsBefore[id].Tags), tagMap(v.Tags))
				}
			}
		})
	}

	// graft never tags a source volume.
	for id, v := range describeVolumes(t, ctx, client, sources) {
		if !maps.Equal(tagMap(v.Tags), tagMap(sourceBefore[id].Tags)) {
			t.Errorf("source volume %s: tags %v -> %v", id, tagMap(sourceBefore[id].Tags), tagMap(v.Tags))
		}
	}
}
