package ebs

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/kmskey"
	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// VolumeParams are the parameters of one new volume, after defaults from
// the source volume.
type VolumeParams struct {
	Zone string `json:"zone"`
	VolumeAttrs
	// InitRateMiBps is the provisioned initialization rate (0: none).
	InitRateMiBps int32 `json:"initRateMiBps,omitempty"`
	FSR           bool  `json:"fastSnapshotRestore,omitempty"`
}

// VolumeAttrs are the EBS attributes of a volume: a source volume's as
// discover found them (Device), a new one's as clone asks for them
// (VolumeParams).
type VolumeAttrs struct {
	SizeGiB    int32  `json:"sizeGiB"`
	Type       string `json:"type"`
	IOPS       int32  `json:"iops,omitempty"`
	Throughput int32  `json:"throughput,omitempty"`
	Encrypted  bool   `json:"encrypted"`
	KMSKeyID   string `json:"kmsKeyId,omitempty"`
}

// volumeAttrs are v's attributes.
func volumeAttrs(v types.Volume) VolumeAttrs {
	return VolumeAttrs{SizeGiB: aws.ToInt32(v.Size), Type: string(v.VolumeType), IOPS: aws.ToInt32(v.Iops),
		Throughput: aws.ToInt32(v.Throughput), Encrypted: aws.ToBool(v.Encrypted), KMSKeyID: aws.ToString(v.KmsKeyId)}
}

// volumeParams derives a device's new-volume parameters from the spec and
// the source volume.
func volumeParams(s *spec.Spec, mb Member, d Device) VolumeParams {
	v := s.Target.Volume
	p := VolumeParams{Zone: mb.TargetZone, VolumeAttrs: VolumeAttrs{SizeGiB: d.SizeGiB, Type: v.Type, IOPS: v.IOPS, Throughput: v.Throughput,
		Encrypted: v.Encrypted || d.Encrypted, KMSKeyID: v.KMSKeyID},
		InitRateMiBps: v.Initialization.RateMiBps, FSR: v.Initialization.FastSnapshotRestore}
	p.Type = cmp.Or(p.Type, d.Type)
	if p.IOPS == 0 && p.Type == d.Type && takesIOPS(p.Type) {
		p.IOPS = d.IOPS
	}
	if p.Throughput == 0 && p.Type == "gp3" && d.Type == "gp3" {
		p.Throughput = d.Throughput
	}
	// Without a spec key the new volume keeps the source's, which graft
	// sends explicitly; a key ARN is regional, so across regions the copy
	// takes the target region's default key (unknown without KMS).
	if p.KMSKeyID == "" && p.Encrypted && s.Target.Region == s.Source.Region && !s.Target.CrossAccount() {
		p.KMSKeyID = d.KMSKeyID
	}
	// In another account the copy and the volume take the target
	// account's key (spec.Target.CopyKMSKeyID; none: its default key),
	// never the source's, which is another account's.
	if s.Target.CrossAccount() {
		p.KMSKeyID = s.Target.CopyKMSKeyID()
		p.Encrypted = p.Encrypted || p.KMSKeyID != ""
	}
	return p
}

func takesIOPS(t string) bool { return t == "gp3" || t == "io1" || t == "io2" }

// Limits of EBS volume types (size in GiB; IOPS per GiB), as EC2's
// CreateVolume documents them today: gp3 1 GiB-64 TiB, 3000 IOPS baseline
// at any size, up to 500 IOPS per GiB and 80,000 IOPS, 125-2000 MiB/s and
// at most 0.25 MiB/s per IOPS (the limits of September 2025; before, 16
// TiB, 16,000 IOPS and 1000 MiB/s); io1 4 GiB-16 TiB, 100-64,000 IOPS, 50
// per GiB; io2 (Block Express) 4 GiB-64 TiB, 100-256,000 IOPS, 1000 per
// GiB. generator/ec2sim enforces the same table.
var volumeLimits = map[string]struct {
	minSize, maxSize   int32
	iopsPerGiB         int32
	minIOPS, maxIOPS   int32
	minThru, maxThru   int32
	thruPerIOPSQuarter bool
}{
	"gp2":      {1, 16384, 0, 0, 0, 0, 0, false},
	"gp3":      {1, 65536, 500, 3000, 80000, 125, 2000, true},
	"io1":      {4, 16384, 50, 100, 64000, 0, 0, false},
	"io2":      {4, 65536, 1000, 100, 256000, 0, 0, false},
	"st1":      {125, 16384, 0, 0, 0, 0, 0, false},
	"sc1":      {125, 16384, 0, 0, 0, 0, 0, false},
	"standard": {1, 1024, 0, 0, 0, 0, 0, false},
}

// maxIOPSFor is the most IOPS a volume of the type and size takes: the
// per-GiB ratio times the size, never below the type's minimum (gp3's
// 3000 baseline is there at any size) nor above its maximum. It is the one
// rule check applies and names in its message.
func maxIOPSFor(typ string, size int32) int32 {
	l := volumeLimits[typ]
	n := int64(l.iopsPerGiB) * int64(size)
	n = max(n, int64(l.minIOPS))
	n = min(n, int64(l.maxIOPS))
	return int32(n)
}

// check reports why EC2 would refuse these parameters, or "".
func (p VolumeParams) check() string {
	l, ok := volumeLimits[p.Type]
	if !ok {
		return fmt.Sprintf("volume type %q is not one of gp2, gp3, io1, io2, st1, sc1, standard", p.Type)
	}
	var why []string
	if p.SizeGiB < l.minSize || p.SizeGiB > l.maxSize {
		why = append(why, fmt.Sprintf("size %d GiB is outside %d-%d GiB for %s", p.SizeGiB, l.minSize, l.maxSize, p.Type))
	}
	if p.IOPS != 0 {
		switch most := maxIOPSFor(p.Type, p.SizeGiB); {
		case l.maxIOPS == 0:
			why = append(why, fmt.Sprintf("type %s takes no IOPS (got %d)", p.Type, p.IOPS))
		case p.IOPS < l.minIOPS || p.IOPS > l.maxIOPS:
			why = append(why, fmt.Sprintf("IOPS %d is outside %d-%d for %s", p.IOPS, l.minIOPS, l.maxIOPS, p.Type))
		case p.IOPS > most:
			why = append(why, fmt.Sprintf("IOPS %d exceeds %d per GiB of a %d GiB %s volume (at most %d; %d are allowed at any size)", p.IOPS, l.iopsPerGiB, p.SizeGiB, p.Type, most, l.minIOPS))
		}
	} else if p.Type == "io1" || p.Type == "io2" {
		why = append(why, fmt.Sprintf("type %s needs IOPS (spec.target.volume.iops)", p.Type))
	}
	if p.Throughput != 0 {
		switch {
		case l.maxThru == 0:
			why = append(why, fmt.Sprintf("type %s takes no throughput (got %d MiB/s)", p.Type, p.Throughput))
		case p.Throughput < l.minThru || p.Throughput > l.maxThru:
			why = append(why, fmt.Sprintf("throughput %d MiB/s is outside %d-%d for %s", p.Throughput, l.minThru, l.maxThru, p.Type))
		case l.thruPerIOPSQuarter && p.Throughput > l.minThru && int64(p.Throughput)*4 > int64(max(p.IOPS, l.minIOPS)):
			why = append(why, fmt.Sprintf("throughput %d MiB/s exceeds 0.25 MiB/s per IOPS (IOPS %d allow at most %d MiB/s)", p.Throughput, max(p.IOPS, l.minIOPS), max(p.IOPS, l.minIOPS)/4))
		}
	}
	return strings.Join(why, "; ")
}

// volumeProblems checks every new volume's parameters before any call.
func (e *Engine) volumeProblems(inv *Inventory) []Problem {
	var out []Problem
	seen := map[string]bool{}
	for _, mb := range inv.Members {
		for _, d := range mb.Devices {
			p := volumeParams(&e.m.Spec, mb, d)
			if why := p.check(); why != "" && !seen[why] {
				seen[why] = true
				out = append(out, Problem{Kind: ProblemVolumeParameters, Message: fmt.Sprintf("new volume for %s %s (from %s, %s %d GiB): %s; see spec.target.volume", mb.Key(), d.ClaimTemplate, d.VolumeID, d.Type, d.SizeGiB, why)})
			}
		}
	}
	return out
}

// needsCopy reports whether a device's snapshot must be copied: to
// another region, into the target account (which then owns the snapshot
// its volumes come from, under its own key, whatever becomes of the share
// and the source key), or to re-encrypt with a key other than the source's.
func (e *Engine) needsCopy(d Device) bool {
	if e.crossRegion() || e.crossAccount() {
		return true
	}
	k := e.m.Spec.Target.Volume.KMSKeyID
	return k != "" && !kmskey.Same(k, d.KMSKeyID)
}

// clientToken is EC2's idempotency token for a create: hex(sha256) of a
// stable key, 64 characters (EC2's limit). gen > 0 bumps it after an
// IdempotentParameterMismatch.
func clientToken(key string, gen int) string {
	if gen > 0 {
		key = fmt.Sprintf("%s#%d", key, gen)
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// tagSpec builds the TagSpecification of a new resource: graft's tags and
// the spec's.
func (e *Engine) tagSpec(rt types.ResourceType, tags map[string]string) []types.TagSpecification {
	all := map[string]string{}
	maps.Copy(all, e.m.Spec.Target.Volume.Tags)
	maps.Copy(all, tags)
	all[ownership.TagMigration] = e.m.Metadata.Name
	ts := types.TagSpecification{ResourceType: rt}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		ts.Tags = append(ts.Tags, types.Tag{Key: aws.String(k), Value: aws.String(all[k])})
	}
	return []types.TagSpecification{ts}
}
