// Package ebstest starts moto server for graft's EC2 wire tests and seeds
// a legacy Cassandra cluster in it through the real SDK.
//
// moto's known gaps, covered by graft's simulator (generator/ec2sim)
// instead: it ignores ClientToken (a retried CreateVolume makes a second
// volume), has no Fast Snapshot Restore, completes snapshots at once (no
// progress), does not throttle, and does not check KMS keys.
package ebstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/internal/testkit"
)

// MotoServer finds the moto_server binary: $GRAFT_MOTO_SERVER, else the
// venv generator/ebs/install-moto.sh makes (.cache/moto-venv), else PATH.
func MotoServer() (string, error) {
	if p := os.Getenv("GRAFT_MOTO_SERVER"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	venv := filepath.Join(root, ".cache", "moto-venv", "bin", "moto_server")
	if _, err := os.Stat(venv); err == nil {
		return venv, nil
	}
	return exec.LookPath("moto_server")
}

// StartMoto starts moto server on 127.0.0.1 at a free port, points the SDK
// at it (AWS_ENDPOINT_URL_EC2, dummy credentials, no profiles, no IMDS)
// and stops it when the test ends. It returns the endpoint. When moto
// cannot be found or started the test fails under CI=true and is skipped
// otherwise, saying why.
func StartMoto(t testing.TB) string {
	t.Helper()
	bin, err := MotoServer()
	if err != nil {
		unavailable(t, "moto_server not found (run generator/ebs/install-moto.sh or set GRAFT_MOTO_SERVER): %v", err)
		return ""
	}
	port, err := testkit.FreePort()
	if err != nil {
		unavailable(t, "no free port: %v", err)
		return ""
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	srv, err := testkit.StartServer(t, cmd, filepath.Join(t.TempDir(), "moto.log"))
	if err != nil {
		unavailable(t, "%v", err)
		return ""
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	if _, err := srv.WaitHTTP(t.Context(), endpoint+"/moto-api/", 45*time.Second); err != nil {
		unavailable(t, "moto_server: %v\n%s", err, testkit.Tail(srv.Log, 4000))
		return ""
	}
	SetFakeAWS(t, endpoint)
	return endpoint
}

// SetFakeAWS points the SDK's standard chain at endpoint with dummy
// credentials, and keeps the user's profiles and IMDS out of the way.
func SetFakeAWS(t testing.TB, endpoint string) {
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_EC2", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("moto server is required in CI: %s", msg)
	}
	t.Skipf("moto server unavailable: %s", msg)
}

// Cluster is what Seed created.
type Cluster struct {
	Instances []string
	// DataVolumes are the seeded data volumes; Other the other app's.
	DataVolumes   []string
	OtherVolumes  []string
	OtherInstance string
}

// SourceKey is the KMS key of the seeded volumes.
const SourceKey = "arn:aws:kms:us-east-1:111122223333:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"

// Seed creates a legacy cluster through the API: 6 instances in 3 zones
// (racks r1-r3, Name=prod-dc1-r<rack>-sts-<ordinal>, tag
// cassandra.datastax.com/cluster=prod), each with encrypted data volumes
// at /dev/xvdf (1 TiB) and /dev/xvdg (100 GiB), the sizes the base claims; plus one instance of
// another application (cluster=other) with its own volume.
func Seed(ctx context.Context, c *ec2.Client) (Cluster, error) {
	var cl Cluster
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		return cl, fmt.Errorf("DescribeImages: %v (%d images)", err, len(imgs.Images))
	}
	ami := aws.ToString(imgs.Images[0].ImageId)
	run := func(zone, name, cluster string) (string, error) {
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeM5Large,
			Placement: &types.Placement{AvailabilityZone: aws.String(zone)},
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{
				{Key: aws.String("Name"), Value: aws.String(name)},
				{Key: aws.String("cassandra.datastax.com/cluster"), Value: aws.String(cluster)},
			}}},
		})
		if err != nil {
			return "", fmt.Errorf("RunInstances %s: %w", name, err)
		}
		return aws.ToString(out.Instances[0].InstanceId), nil
	}
	vol := func(zone, inst, dev string, size int32) (string, error) {
		out, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(size),
			VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(3000), Throughput: aws.Int32(125),
			Encrypted: aws.Bool(true), KmsKeyId: aws.String(SourceKey)})
		if err != nil {
			return "", fmt.Errorf("CreateVolume: %w", err)
		}
		id := aws.ToString(out.VolumeId)
		if _, err := c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(id), InstanceId: aws.String(inst), Device: aws.String(dev)}); err != nil {
			return "", fmt.Errorf("AttachVolume %s %s: %w", id, dev, err)
		}
		return id, nil
	}
	for rack := 1; rack <= 3; rack++ {
		zone := "us-east-1" + string(rune('a'+rack-1))
		for ord := 0; ord < 2; ord++ {
			id, err := run(zone, fmt.Sprintf("prod-dc1-r%d-sts-%d", rack, ord), "prod")
			if err != nil {
				return cl, err
			}
			cl.Instances = append(cl.Instances, id)
			for _, d := range []struct {
				dev  string
				size int32
			}{{"/dev/xvdf", 1024}, {"/dev/xvdg", 100}} {
				v, err := vol(zone, id, d.dev, d.size)
				if err != nil {
					return cl, err
				}
				cl.DataVolumes = append(cl.DataVolumes, v)
			}
		}
	}
	other, err := run("us-east-1a", "kafka-0", "other")
	if err != nil {
		return cl, err
	}
	cl.OtherInstance = other
	v, err := vol("us-east-1a", other, "/dev/xvdf", 50)
	if err != nil {
		return cl, err
	}
	cl.OtherVolumes = append(cl.OtherVolumes, v)
	return cl, nil
}

// SpecYAML is a spec for the seeded cluster, after
// testdata/examples/cassandra-6node-racks/graft.yaml, with the overlay
// at overlays/<name> and the base at base/cassandra-racks beside it.
func SpecYAML(name, clusterTag, kmsKey string) string {
	s := `apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata:
  name: NAME
spec:
  source:
    region: us-east-1
    filters:
      - name: tag:cassandra.datastax.com/cluster
        values: [CLUSTER]
    devices:
      - name: /dev/xvdf
        claimTemplate: server-data
        fsType: xfs
      - name: /dev/xvdg
        claimTemplate: commitlog
        fsType: xfs
  mapping:
    tagRegex:
      tag: Name
      pattern: '^(?P<statefulset>prod-dc1-r[1-3]-sts)-(?P<ordinal>[0-9]+)$'
  target:
    namespace: cassandra
    statefulSets:
      - name: prod-dc1-r1-sts
        replicas: 2
        zone: us-east-1a
      - name: prod-dc1-r2-sts
        replicas: 2
        zone: us-east-1b
      - name: prod-dc1-r3-sts
        replicas: 2
        zone: us-east-1c
    topologyKey: topology.ebs.csi.aws.com/zone
    volume:
      type: gp3
      iops: 6000
      throughput: 500
      encrypted: true
      kmsKeyId: KMSKEY
      initialization:
        rateMiBps: 300
      tags:
        team: data-platform
  gitops:
    engine: flux
    base: ../../base/cassandra-racks
`
	return strings.NewReplacer("NAME", name, "CLUSTER", clusterTag, "KMSKEY", kmsKey).Replace(s)
}
