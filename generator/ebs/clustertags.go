// The cluster tags of a volume graft made in an earlier run: added when
// missing, never changed.

package ebs

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/graftctl/graft/generator/ownership"
	"github.com/graftctl/graft/generator/spec"
)

// roleTag is the plan's role of adding the cluster tags to a volume an
// earlier run made.
const roleTag = "tag"

// clusterTagDiff compares a volume's tags with the cluster tags the spec
// asks for (spec.Target.Storage): add are the ones it lacks; conflicts, one
// `tags["k"]: found "v", expected "w"` each, are a wanted tag with another
// value and a tag that names another cluster. The single rule: graft adds
// a missing cluster tag, and never changes or removes one.
func clusterTagDiff(want map[string]string, cluster string, tags []types.Tag) (add map[string]string, conflicts []string) {
	have := tagMap(tags)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got, ok := have[k]
		switch {
		case !ok:
			if add == nil {
				add = map[string]string{}
			}
			add[k] = want[k]
		case got != want[k]:
			conflicts = append(conflicts, fmt.Sprintf("tags[%q]: found %q, expected %q", k, got, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, wanted := want[k]; wanted {
			continue
		}
		named, ok := spec.ClusterNamedBy(k, have[k])
		switch {
		case !ok || named == cluster:
		case strings.HasPrefix(k, spec.TagClusterPrefix):
			conflicts = append(conflicts, fmt.Sprintf("tags[%q]: found, expected no such tag (it names cluster %q, not %q)", k, named, cluster))
		default:
			conflicts = append(conflicts, fmt.Sprintf("tags[%q]: found %q, expected %q or no such tag", k, named, cluster))
		}
	}
	return add, conflicts
}

// decideClusterTags sets a reused volume's cluster-tag step: the tags it
// lacks (and the CreateTags call that adds them), or why it is refused.
func (e *Engine) decideClusterTags(vs *volStep) {
	c := e.m.Spec.Target.Cluster
	if c == nil || vs.exists == nil {
		return
	}
	id := aws.ToString(vs.exists.VolumeId)
	add, conflicts := clusterTagDiff(e.m.Spec.Target.Storage().Tags, c.Name, vs.exists.Tags)
	vs.foreign, vs.tag = "", nil
	switch {
	case len(conflicts) > 0:
		vs.foreign = e.foreignRefusal(id, conflicts)
	case len(add) > 0:
		vs.tag = createTagsInput(id, add)
	}
}

// createTagsInput is the CreateTags call adding tags to one volume, in key
// order.
func createTagsInput(id string, add map[string]string) *ec2.CreateTagsInput {
	in := &ec2.CreateTagsInput{Resources: []string{id}}
	for _, k := range slices.Sorted(maps.Keys(add)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(add[k])})
	}
	return in
}

// foreignRefusal says why graft refuses a volume whose cluster tags do not
// match spec.target.cluster.
func (e *Engine) foreignRefusal(id string, conflicts []string) string {
	c := e.m.Spec.Target.Cluster
	return fmt.Sprintf("graft's volume %s carries cluster tags that do not match spec.target.cluster (name %s, storageDriver %s): %s; it was tagged for another cluster (or by hand), and graft adds missing cluster tags but never changes one: moving a volume between clusters is your decision: set spec.target.cluster to the volume's cluster, or change the volume's tags yourself (aws ec2 create-tags / delete-tags), or delete the volume (graft cleanup --volume %[1]s, once no record references it), then run graft clone --phase final again",
		id, c.Name, cmp.Or(c.StorageDriver, spec.StorageDriverEBSCSI), strings.Join(conflicts, "; "))
}

// ownedBy reports why v is not the volume graft made for the member's
// claim template, or "" when it is: tagged with this migration, the member,
// the claim template and graft's volume role, exactly as the look-up that
// reuses it keys it (volKeyOf), and not a source volume.
func (r *cloneRun) ownedBy(v types.Volume, mb Member, template string) string {
	id := aws.ToString(v.VolumeId)
	t := tagMap(v.Tags)
	switch {
	case r.inv.isSource(id):
		return fmt.Sprintf("volume %s is a source volume", id)
	case t[ownership.TagMigration] != r.e.m.Metadata.Name || t[ownership.TagRole] != ownership.RoleVolume:
		return fmt.Sprintf("volume %s is not one of graft's volumes of %s (tags %s=%q, %s=%q)", id, r.e.m.Metadata.Name, ownership.TagMigration, t[ownership.TagMigration], ownership.TagRole, t[ownership.TagRole])
	case t[ownership.TagMember] != mb.Key() || t[ownership.TagClaimTemplate] != template:
		return fmt.Sprintf("volume %s is not %s %s's (tags %s=%q, %s=%q)", id, mb.Key(), template, ownership.TagMember, t[ownership.TagMember], ownership.TagClaimTemplate, t[ownership.TagClaimTemplate])
	}
	return ""
}

// ensureClusterTags gives a volume graft made for the member (in an earlier
// run, or another run's that this one adopted) the cluster tags it lacks,
// judged from the volume as EC2 now reports it (clusterTagDiff): it
// refuses a volume whose cluster tags name another cluster, and tags only
// a volume graft owns (ownedBy), never a source volume. CreateTags only
// adds, so a re-run after an interrupted call adds what is still missing.
// It returns the volume with the tags EC2 accepted.
func (r *cloneRun) ensureClusterTags(ctx context.Context, mb Member, v volStep, vol types.Volume) (types.Volume, error) {
	e := r.e
	c := e.m.Spec.Target.Cluster
	if c == nil {
		return vol, nil
	}
	id := aws.ToString(vol.VolumeId)
	add, conflicts := clusterTagDiff(e.m.Spec.Target.Storage().Tags, c.Name, vol.Tags)
	if len(conflicts) > 0 {
		return types.Volume{}, fmt.Errorf("%s %s: %s", mb.Key(), v.d.ClaimTemplate, e.foreignRefusal(id, conflicts))
	}
	if len(add) == 0 {
		return vol, nil
	}
	if why := r.ownedBy(vol, mb, v.d.ClaimTemplate); why != "" {
		return types.Volume{}, fmt.Errorf("%s %s: %s lacks the cluster tags %s, but graft tags only a volume it made: %s; not tagged", mb.Key(), v.d.ClaimTemplate, id, spec.FormatTags(add), why)
	}
	e.opts.Progress.Update(mb.Key(), "tagging volume", 90)
	in := createTagsInput(id, add)
	if _, err := e.dst.CreateTags(ctx, in); err != nil {
		return types.Volume{}, fmt.Errorf("%s %s: CreateTags %s on %s, which graft made before target.cluster asked for them (the next run adds what is still missing): %w", mb.Key(), v.d.ClaimTemplate, spec.FormatTags(add), id, err)
	}
	e.log.Info("added the cluster tags an earlier run's volume lacked", "member", mb.Key(), "claimTemplate", v.d.ClaimTemplate, "volume", id, "tags", spec.FormatTags(add))
	vol.Tags = append(slices.Clone(vol.Tags), in.Tags...)
	return vol, nil
}
