package ec2sim

import (
	"cmp"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// InstanceSpec seeds an instance (not through the API: no audit, no rate
// limit). Empty fields get defaults: a generated id, the first zone, a
// private IP 10.0.<zone>.<n>, type m5.2xlarge, state running, root device
// /dev/xvda, launch time one year before the clock's start.
type InstanceSpec struct {
	ID, Zone, PrivateIP, InstanceType, RootDevice string
	Tags                                          map[string]string
	State                                         types.InstanceStateName
}

// VolumeSpec seeds a volume. Defaults: the first zone, 100 GiB gp3 (3000
// IOPS, 125 MiB/s), the region's default key if Encrypted without KMSKeyID.
type VolumeSpec struct {
	ID, Zone   string
	SizeGiB    int32
	Type       types.VolumeType
	Iops       int32
	Throughput int32
	Encrypted  bool
	KMSKeyID   string
	Tags       map[string]string
}

// AddInstance seeds an instance and returns its id.
func (s *Sim) AddInstance(sp InstanceSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp.Zone == "" {
		sp.Zone = s.zones[0].name
	}
	zi := -1
	for i, z := range s.zones {
		if z.name == sp.Zone {
			zi = i
		}
	}
	if zi < 0 {
		return "", fmt.Errorf("ec2sim: zone %s is not in region %s", sp.Zone, s.opt.Region)
	}
	if sp.ID == "" {
		sp.ID = s.newID("i")
	} else if s.ids[sp.ID] || !reInstanceID.MatchString(sp.ID) {
		return "", fmt.Errorf("ec2sim: bad or duplicate instance id %q", sp.ID)
	}
	s.ids[sp.ID] = true
	seq := s.nextSeq()
	sp.PrivateIP = cmp.Or(sp.PrivateIP, fmt.Sprintf("10.0.%d.%d", 16*zi+(seq/250)%16, 4+seq%250))
	sp.InstanceType = cmp.Or(sp.InstanceType, "m5.2xlarge")
	sp.State = cmp.Or(sp.State, types.InstanceStateNameRunning)
	sp.RootDevice = cmp.Or(sp.RootDevice, "/dev/xvda")
	s.instances[sp.ID] = &instance{
		id: sp.ID, zone: sp.Zone, privateIP: sp.PrivateIP, instanceType: sp.InstanceType, rootDevice: sp.RootDevice,
		tags: copyTags(sp.Tags), launch: s.opt.Start.AddDate(-1, 0, 0), state: sp.State, seq: seq,
	}
	return sp.ID, nil
}

// AddVolume seeds an available volume and returns its id.
func (s *Sim) AddVolume(sp VolumeSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp.Zone == "" {
		sp.Zone = s.zones[0].name
	}
	if _, ok := s.zoneByName(sp.Zone); !ok {
		return "", fmt.Errorf("ec2sim: zone %s is not in region %s", sp.Zone, s.opt.Region)
	}
	sp.SizeGiB = cmp.Or(sp.SizeGiB, 100)
	sp.Type = cmp.Or(sp.Type, types.VolumeTypeGp3)
	iops, tput, err := validateVolume(sp.Type, sp.SizeGiB, sp.Iops, sp.Throughput, sp.Iops != 0, sp.Throughput != 0)
	if err != nil {
		return "", fmt.Errorf("ec2sim: seed volume: %w", err)
	}
	if sp.ID == "" {
		sp.ID = s.newID("vol")
	} else if s.ids[sp.ID] || !reVolumeID.MatchString(sp.ID) {
		return "", fmt.Errorf("ec2sim: bad or duplicate volume id %q", sp.ID)
	}
	s.ids[sp.ID] = true
	kms := ""
	if sp.Encrypted {
		kms = sp.KMSKeyID
		if kms == "" {
			kms = s.DefaultKMSKey()
		}
	}
	created := s.opt.Start.AddDate(-1, 0, 0)
	s.volumes[sp.ID] = &volume{
		id: sp.ID, zone: sp.Zone, size: sp.SizeGiB, vtype: sp.Type, iops: iops, throughput: tput,
		encrypted: sp.Encrypted, kms: kms, created: created, ready: created, tags: copyTags(sp.Tags), seq: s.nextSeq(),
	}
	return sp.ID, nil
}

// Attach attaches a seeded volume to an instance in the same zone.
func (s *Sim) Attach(volumeID, instanceID, device string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, in := s.volumes[volumeID], s.instances[instanceID]
	switch {
	case v == nil:
		return fmt.Errorf("ec2sim: no volume %s", volumeID)
	case in == nil:
		return fmt.Errorf("ec2sim: no instance %s", instanceID)
	case v.attach != nil:
		return fmt.Errorf("ec2sim: volume %s is already attached to %s", volumeID, v.attach.instance)
	case v.zone != in.zone:
		return fmt.Errorf("ec2sim: volume %s is in %s, instance %s in %s", volumeID, v.zone, instanceID, in.zone)
	}
	for _, o := range s.attachedTo(instanceID) {
		if o.attach.device == device {
			return fmt.Errorf("ec2sim: device %s of %s is taken by %s", device, instanceID, o.id)
		}
	}
	v.attach = &attachment{instance: instanceID, device: device, at: in.launch, deleteOnTerm: device == in.rootDevice}
	return nil
}

// DeviceSpec is one data device of every node of a seeded cluster.
type DeviceSpec struct {
	Device string // e.g. /dev/xvdf
	VolumeSpec
}

// ClusterSpec seeds a legacy cluster.
type ClusterSpec struct {
	// Name prefixes the Name tags: <Name>-0 … <Name>-<Nodes-1>. Default
	// "cassandra".
	Name  string
	Nodes int
	// Zones the nodes are spread over round-robin; default every zone.
	Zones []string
	// Devices are each node's data devices; default one 100 GiB gp3 at
	// /dev/xvdf.
	Devices []DeviceSpec
	// Tags are added to every instance (default {"app": Name}); a node's
	// instance also gets Name, and each data volume Name=<node>-<device>.
	Tags map[string]string
	// NoBootVolume leaves out the 8 GiB root volume at /dev/xvda.
	NoBootVolume bool
}

// Node is one seeded instance.
type Node struct {
	Name, InstanceID, Zone, PrivateIP string
	BootVolumeID                      string            // "" with NoBootVolume
	DataVolumes                       map[string]string // device -> volume id
}

// Cluster is what SeedCluster created.
type Cluster struct{ Nodes []Node }

// SourceIDs returns every seeded instance and volume id, for
// MutatingCallsOn.
func (c Cluster) SourceIDs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.InstanceID)
		if n.BootVolumeID != "" {
			out = append(out, n.BootVolumeID)
		}
		for _, v := range n.DataVolumes {
			out = append(out, v)
		}
	}
	return out
}

// DataVolumeIDs returns the data volume ids of every node.
func (c Cluster) DataVolumeIDs() []string {
	var out []string
	for _, n := range c.Nodes {
		for _, v := range n.DataVolumes {
			out = append(out, v)
		}
	}
	return out
}

// SeedCluster seeds spec.Nodes running instances with their volumes.
func (s *Sim) SeedCluster(spec ClusterSpec) (Cluster, error) {
	spec.Name = cmp.Or(spec.Name, "cassandra")
	if len(spec.Zones) == 0 {
		spec.Zones = s.Zones()
	}
	if len(spec.Devices) == 0 {
		spec.Devices = []DeviceSpec{{Device: "/dev/xvdf"}}
	}
	if spec.Tags == nil {
		spec.Tags = map[string]string{"app": spec.Name}
	}
	var cl Cluster
	for i := 0; i < spec.Nodes; i++ {
		name := fmt.Sprintf("%s-%d", spec.Name, i)
		z := spec.Zones[i%len(spec.Zones)]
		tags := copyTags(spec.Tags)
		tags["Name"] = name
		id, err := s.AddInstance(InstanceSpec{Zone: z, Tags: tags})
		if err != nil {
			return cl, err
		}
		n := Node{Name: name, InstanceID: id, Zone: z, DataVolumes: map[string]string{}}
		s.mu.Lock()
		n.PrivateIP = s.instances[id].privateIP
		s.mu.Unlock()
		if !spec.NoBootVolume {
			vid, err := s.AddVolume(VolumeSpec{Zone: z, SizeGiB: 8, Type: types.VolumeTypeGp3, Tags: map[string]string{"Name": name + "-root"}})
			if err == nil {
				err = s.Attach(vid, id, "/dev/xvda")
			}
			if err != nil {
				return cl, err
			}
			n.BootVolumeID = vid
		}
		for _, d := range spec.Devices {
			vs := d.VolumeSpec
			vs.Zone = z
			vs.Tags = copyTags(d.Tags)
			vs.Tags["Name"] = name + "-" + baseName(d.Device)
			vs.ID = ""
			vid, err := s.AddVolume(vs)
			if err == nil {
				err = s.Attach(vid, id, d.Device)
			}
			if err != nil {
				return cl, err
			}
			n.DataVolumes[d.Device] = vid
		}
		cl.Nodes = append(cl.Nodes, n)
	}
	return cl, nil
}

func baseName(dev string) string {
	for i := len(dev) - 1; i >= 0; i-- {
		if dev[i] == '/' {
			return dev[i+1:]
		}
	}
	return dev
}

// AddSnapshot seeds a completed snapshot of a volume (not through the API;
// it does not count as Created) and returns its id.
func (s *Sim) AddSnapshot(volumeID string, tags map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.volumes[volumeID]
	if v == nil {
		return "", fmt.Errorf("ec2sim: no volume %s", volumeID)
	}
	start := s.clock.Now().Add(-24 * time.Hour)
	sn := &snapshot{id: s.newID("snap"), volumeID: volumeID, size: v.size, encrypted: v.encrypted, kms: v.kms,
		start: start, dur: time.Hour, tags: copyTags(tags), seq: s.nextSeq()}
	s.snapshots[sn.id] = sn
	return sn.id, nil
}

// AddSnapshotted seeds n volumes like sp, each with one completed
// snapshot (AddSnapshot) tagged like it, and returns their ids in the
// order it made them.
func (s *Sim) AddSnapshotted(n int, sp VolumeSpec) (vols, snaps []string, err error) {
	for range n {
		v, err := s.AddVolume(sp)
		if err != nil {
			return nil, nil, err
		}
		sn, err := s.AddSnapshot(v, sp.Tags)
		if err != nil {
			return nil, nil, err
		}
		vols, snaps = append(vols, v), append(snaps, sn)
	}
	return vols, snaps, nil
}

// SetTags replaces the tags of a snapshot or volume, as someone editing
// them in the console between two graft runs would.
func (s *Sim) SetTags(id string, tags map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.snapshots[id] != nil:
		s.snapshots[id].tags = copyTags(tags)
	case s.volumes[id] != nil:
		s.volumes[id].tags = copyTags(tags)
	default:
		return fmt.Errorf("ec2sim: no snapshot or volume %s", id)
	}
	s.clock.touch()
	return nil
}
