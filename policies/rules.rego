# The catalogue of graft's rules: a stable id, a level and a title each.
# Output formats that list rules (SARIF, JUnit) read it; ids never change
# meaning and are never reused.
package graft

rules := {
	"GRAFT000": {"level": "deny", "title": "the input is the combined overlay plus exactly one graft.lock"},
	"GRAFT001": {"level": "deny", "title": "every claim template with a selector has a PVC for each ordinal"},
	"GRAFT002": {"level": "deny", "title": "no duplicate PV, PVC or claim name"},
	"GRAFT003": {"level": "deny", "title": "no stray PVC or PV"},
	"GRAFT010": {"level": "deny", "title": "a PVC's volumeName names a PV of the overlay"},
	"GRAFT011": {"level": "deny", "title": "the PV's claimRef names its PVC back"},
	"GRAFT012": {"level": "deny", "title": "a claimRef carries no uid"},
	"GRAFT013": {"level": "deny", "title": "the storage class is identical on PV, PVC and claim template"},
	"GRAFT014": {"level": "deny", "title": "access modes and volume mode agree"},
	"GRAFT015": {"level": "deny", "title": "PV capacity is at least the request"},
	"GRAFT016": {"level": "deny", "title": "the claim template's selector matches the PV's labels"},
	"GRAFT017": {"level": "deny", "title": "a claim template's selector matches no PV meant for another claim template"},
	"GRAFT020": {"level": "deny", "title": "the PV has a required node affinity on one zone key with exactly one zone"},
	"GRAFT021": {"level": "deny", "title": "the PV's zone is the record's target zone for the volume"},
	"GRAFT022": {"level": "deny", "title": "the PV's zone is allowed by the StatefulSet's pod template"},
	"GRAFT023": {"level": "warn", "title": "the PV zones let a zone topology spread constraint be met"},
	"GRAFT024": {"level": "deny", "title": "all volumes of one member are in one zone"},
	"GRAFT030": {"level": "deny", "title": "the PV uses the EBS CSI driver"},
	"GRAFT031": {"level": "deny", "title": "the volumeHandle is a bare EBS volume id"},
	"GRAFT032": {"level": "deny", "title": "the volumeHandle is the record's target volume for the claim"},
	"GRAFT033": {"level": "deny", "title": "no volume is used twice"},
	"GRAFT034": {"level": "deny", "title": "the fsType is the record's"},
	"GRAFT035": {"level": "deny", "title": "no PV points at a source (legacy) volume"},
	"GRAFT036": {"level": "deny", "title": "every recorded volume of a StatefulSet of the overlay has a PV"},
	"GRAFT037": {"level": "deny", "title": "the PV capacity is the record's volume size"},
	"GRAFT040": {"level": "deny", "title": "the reclaim policy is Retain"},
	"GRAFT041": {"level": "deny", "title": "persistentVolumeClaimRetentionPolicy is not Delete"},
	"GRAFT042": {"level": "deny", "title": "PVs and PVCs carry the GitOps engine's prune and delete protections"},
	"GRAFT043": {"level": "deny", "title": "PVs and PVCs sync in an earlier wave than the StatefulSet"},
	"GRAFT044": {"level": "deny", "title": "no force or replace sync option"},
	"GRAFT045": {"level": "deny", "title": "kustomization.yaml uses no commonLabels"},
	"GRAFT046": {"level": "warn", "title": "the PV carries graft's provenance annotations"},
}
