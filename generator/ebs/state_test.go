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
	"github.com/graftctl/graft/generator/ec2sim"
	"github.com/graftctl/graft/generator/spec"
)

// lastFilterWins is an EC2 that treats two filters of one name as moto
// does: the last one replaces the earlier.
type lastFilterWins struct{ ebs.EC2 }

func (l lastFilterWins) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opt ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	c := *in
	c.Filters = nil
	for _, f := range in.Filters {
		replaced := false
		for i := range c.Filters {
			if aws.ToString(c.Filters[i].Name) == aws.ToString(f.Name) {
				c.Filters[i], replaced = f, true
			}
		}
		if !replaced {
			c.Filters = append(c.Filters, f)
		}
	}
	return l.EC2.DescribeInstances(ctx, &c, opt...)
}

const stoppedFilter = `filters: [{name: "tag:app", values: [cassandra]}, {name: instance-state-name, values: [stopped]}]`

// TestSimStoppedInstanceRefused: a spec filter on instance-state-name
// brings back a stopped instance of another cluster (with moto's filter
// semantics); discover, and so plan and clone, refuse it by name, state
// and filter.
func TestSimStoppedInstanceRefused(t *testing.T) {
	e := newSim(t, simCase{Nodes: 1, Devices: 1, NoHook: true, ExtraSpec: func(y string) string {
		return strings.Replace(y, `filters: [{name: "tag:app", values: [cassandra]}]`, stoppedFilter, 1)
	}})
	id, err := e.sim.AddInstance(ec2sim.InstanceSpec{Tags: map[string]string{"app": "cassandra", "Name": "cassandra-0"}, State: types.InstanceStateNameStopped})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := e.sim.AddVolume(ec2sim.VolumeSpec{SizeGiB: 200, Type: types.VolumeTypeGp3, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Attach(vol, id, "/dev/xvdf"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	eng := e.engine(func(o *ebs.Options) { o.Source = lastFilterWins{e.sim} })
	_, err = eng.Discover(ctx)
	var derr *ebs.DiscoveryError
	if !errors.As(err, &derr) {
		t.Fatalf("discover accepted a stopped instance: %v", err)
	}
	for _, want := range []string{ebs.ProblemNotRunning, id, "is stopped, not running", "remove spec.source.filters[1] (instance-state-name=stopped)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if calls := e.sim.MutatingCallsOn(id, vol); len(calls) > 0 {
		t.Errorf("mutating calls on the stopped instance: %v", calls)
	}
}

// TestMotoStoppedInstanceRefused is the observed case against moto, which
// keeps only the last of two filters named instance-state-name.
func TestMotoStoppedInstanceRefused(t *testing.T) {
	ebstest.StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	client, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ebstest.Seed(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
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
