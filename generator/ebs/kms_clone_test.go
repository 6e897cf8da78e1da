package ebs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/ebs/ebstest"
	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
)

const wrongKey = "arn:aws:kms:us-east-1:123456789012:key/eeeeeeee-12ab-34cd-56ef-1234567890ab"

// TestSimReusedVolumeWrongKey: without spec.target.volume.kmsKeyId the new
// volumes must keep the source's key. A graft volume found by tag that has
// another key is refused, by plan (!) and by clone, naming both keys.
func TestSimReusedVolumeWrongKey(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	eng := e.engine()
	inv, err := eng.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mb, d := inv.Members[0], inv.Members[0].Devices[0]
	if !d.Encrypted || d.KMSKeyID == "" {
		t.Fatalf("source volume not encrypted: %+v", d)
	}
	tags := map[string]string{ebs.TagMigration: "sim", ebs.TagMember: mb.Key(), ebs.TagRole: ebs.RoleVolume, ebs.TagClaimTemplate: d.ClaimTemplate}
	ts := types.TagSpecification{ResourceType: types.ResourceTypeVolume}
	for k, v := range tags {
		ts.Tags = append(ts.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := e.sim.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(mb.TargetZone), Size: aws.Int32(d.SizeGiB),
		VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(4000), Throughput: aws.Int32(250), Encrypted: aws.Bool(true), KmsKeyId: aws.String(wrongKey),
		TagSpecifications: []types.TagSpecification{ts}})
	if err != nil {
		t.Fatal(err)
	}
	bad := aws.ToString(out.VolumeId)
	plan, err := eng.Plan(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = plan.WriteText(&text)
	if plan.Refused != 1 || !strings.Contains(text.String(), "! final   volume") || !strings.Contains(text.String(), "kmsKeyId: found "+wrongKey+", expected "+d.KMSKeyID) {
		t.Errorf("plan does not refuse the volume with the wrong key:\n%s", text.String())
	}
	_, err = e.clone(ctx, spec.PhaseFinal)
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{bad, "kmsKeyId: found " + wrongKey + ", expected " + d.KMSKeyID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
}

// keyDropper is an EC2 that, like moto, does not create a volume with the
// key it was asked for.
type keyDropper struct {
	ebs.EC2
}

func (k keyDropper) CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, opt ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error) {
	c := *in
	c.KmsKeyId = aws.String(wrongKey)
	return k.EC2.CreateVolume(ctx, &c, opt...)
}

// TestSimCreatedVolumeWrongKey: a volume EC2 created with another key than
// the one graft sent is refused, naming both keys, and not recorded.
func TestSimCreatedVolumeWrongKey(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true})
	ctx := ctxT(t, 30*time.Second)
	_, err := e.clone(ctx, spec.PhaseFinal, func(o *ebs.Options) { o.Source = keyDropper{e.sim} })
	if !errors.Is(err, ebs.ErrMembersFailed) {
		t.Fatalf("err = %v", err)
	}
	src := e.sim.DefaultKMSKey()
	for _, v := range e.sim.Volumes() {
		if tagMap(v.Tags)[ebs.TagRole] == "" {
			src = aws.ToString(v.KmsKeyId) // the source volume's key
		}
	}
	for _, want := range []string{"kmsKeyId: found " + wrongKey + ", expected " + src, "does not record it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if rec, err := record.Load(e.lock); err == nil && len(rec.Volumes) > 0 {
		t.Errorf("the volume with the wrong key was recorded: %+v", rec.Volumes)
	}
}

// TestMotoCloneKeepsSourceKey is the observed case: without
// spec.target.volume.kmsKeyId, moto gave the new volumes its default key
// (CreateVolume carried no KmsKeyId and moto drops the snapshot's). graft
// now sends the source's key and checks every new volume's key.
func TestMotoCloneKeepsSourceKey(t *testing.T) {
	ebstest.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	client, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ebstest.Seed(ctx, client); err != nil {
		t.Fatal(err)
	}
	m, err := spec.Parse([]byte(ebstest.SpecYAML("cassandra-moto", "prod", "")))
	if err != nil {
		t.Fatal(err)
	}
	if m.Spec.Target.Volume.KMSKeyID != "" {
		t.Fatalf("spec has a key: %q", m.Spec.Target.Volume.KMSKeyID)
	}
	eng := ebs.New(m, ebs.Options{Source: client, PollInterval: 100 * time.Millisecond, Log: testLogger(t)})
	inv, err := eng.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
