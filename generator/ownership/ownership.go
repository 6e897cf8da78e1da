// Package ownership holds the tags graft writes on every resource it
// creates and reads back to prove a resource is its own: ebs writes them
// (and keys its look-ups and cleanup on them), check reads them on the
// target volumes. It is the one place of those names and of the member
// key, so the writer and the reader cannot drift apart.
package ownership

import "strconv"

// Tags graft puts on every resource it creates. Cleanup and the IAM policy
// key on graft:migration; the look-up before every create keys on
// migration, member, role, phase and claim template.
const (
	TagMigration      = "graft:migration"
	TagMember         = "graft:member"
	TagRole           = "graft:role"
	TagSourceVolume   = "graft:source-volume"
	TagSourceInstance = "graft:source-instance"
	TagClaimTemplate  = "graft:claim-template"
	TagPhase          = "graft:phase"
)

// Roles of graft's resources (the value of TagRole).
const (
	RoleSnapshot = "snapshot"
	RoleCopy     = "copy"
	RoleVolume   = "volume"
	// RoleShareCopy is a copy in the source account under
	// spec.target.account.shareKmsKeyId of a snapshot encrypted with the
	// AWS-managed aws/ebs key, which cannot be shared (cross-account).
	RoleShareCopy = "share-copy"
)

// MemberKey names a member of a StatefulSet in tags and messages:
// <statefulset>/<ordinal>.
func MemberKey(statefulSet string, ordinal int) string {
	return statefulSet + "/" + strconv.Itoa(ordinal)
}
