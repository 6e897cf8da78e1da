package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Binding modes of spec.target.binding.mode. volumeClaimTemplates are
// immutable on a live StatefulSet, so the mode is chosen at migration time.
const (
	// BindingStatic fills each claim template with a selector on graft's
	// labels and spec.target.storageClassName (default ""): nothing is ever
	// provisioned, a new ordinal's claim stays Pending and no claim can be
	// resized.
	BindingStatic = "static"
	// BindingProvisioned names a StorageClass on the PVs, the PVCs and the
	// templates, with no selector: graft's claims are pre-bound both ways,
	// new ordinals are provisioned by the class, and every claim can grow.
	BindingProvisioned = "provisioned"
)

// BindingModes lists the binding modes, the default first.
var BindingModes = []string{BindingStatic, BindingProvisioned}

// Where the StorageClass of the provisioned mode comes from
// (spec.target.binding.storageClass).
const (
	// StorageClassDeclare: render writes the StorageClass into the
	// overlay, and the gate checks it there.
	StorageClassDeclare = "declare"
	// StorageClassExisting: the cluster (or another part of the
	// repository) has it; graft writes none.
	StorageClassExisting = "existing"
)

// StorageClassSources lists the StorageClass sources, the default first.
var StorageClassSources = []string{StorageClassDeclare, StorageClassExisting}

// Binding is how graft's claims and the StatefulSet's claim templates bind.
type Binding struct {
	// Mode is static (the default) or provisioned.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// StorageClass is, in provisioned mode, declare (the default) or
	// existing.
	StorageClass string `yaml:"storageClass,omitempty" json:"storageClass,omitempty"`
}

// Provisioned reports whether new ordinals are provisioned dynamically.
func (b Binding) Provisioned() bool { return b.Mode == BindingProvisioned }

// DeclaresStorageClass reports whether render writes the StorageClass.
func (b Binding) DeclaresStorageClass() bool {
	return b.Provisioned() && b.StorageClass == StorageClassDeclare
}

func (b *Binding) setDefaults() {
	if b.Mode == "" {
		b.Mode = BindingStatic
	}
	if b.Mode == BindingProvisioned && b.StorageClass == "" {
		b.StorageClass = StorageClassDeclare
	}
}

// Explain says what the binding gives and costs after the cut-over, for
// graft plan: one paragraph, the class named.
func (t *Target) Explain() string {
	b := t.Binding
	if !b.Provisioned() {
		return fmt.Sprintf("static (the default): graft's claims are pre-bound to the cloned volumes and each claim template selects graft's PVs, with storage class %q. "+
			"Nothing is ever provisioned: a StatefulSet scaled up leaves the new ordinal's claim Pending (no PersistentVolume matches it), and no claim can be resized. "+
			"spec.target.binding.mode provisioned keeps both; volumeClaimTemplates cannot change on a live StatefulSet, so choose before the cut-over.", t.StorageClassName)
	}
	where := "declared in the overlay"
	if b.StorageClass == StorageClassExisting {
		where = "which the cluster must already have"
	}
	return fmt.Sprintf("provisioned through StorageClass %s (%s): graft's claims are pre-bound both ways to the cloned volumes; a new ordinal's claim is provisioned by the class, and every claim can be resized. "+
		"A graft claim that someone deletes is re-created by the StatefulSet controller and provisioned EMPTY; the cloned volume stays (Retain, and the Retain retention policy) and can be bound again by hand.", t.StorageClassName, where)
}

// BindingExpected says what is expected of a binding's mode, StorageClass
// source and class name, one string per field, "" where it is right. The
// spec and the record both hold a binding; this is their one rule.
func BindingExpected(mode, source, class string) (modeExp, sourceExp, classExp string) {
	switch mode {
	case BindingProvisioned:
		if !slices.Contains(StorageClassSources, source) {
			sourceExp = "one of " + strings.Join(StorageClassSources, ", ")
		}
		if !dns1123Subdomain.MatchString(class) {
			classExp = fmt.Sprintf("the StorageClass that provisions new ordinals (a DNS-1123 subdomain): binding mode %s needs one", BindingProvisioned)
		}
	case BindingStatic:
		if source != "" {
			sourceExp = fmt.Sprintf("unset: only binding mode %s provisions through a StorageClass", BindingProvisioned)
		}
		if class != "" && !dns1123Subdomain.MatchString(class) {
			classExp = `"" (no class) or a DNS-1123 subdomain`
		}
	default:
		modeExp = "one of " + strings.Join(BindingModes, ", ")
	}
	return modeExp, sourceExp, classExp
}

func (v *validator) binding(s *Spec) {
	t := &s.Target
	b := t.Binding
	modeExp, sourceExp, classExp := BindingExpected(b.Mode, b.StorageClass, t.StorageClassName)
	if modeExp != "" {
		v.add("spec.target.binding.mode", b.Mode, modeExp)
	}
	if sourceExp != "" {
		v.add("spec.target.binding.storageClass", b.StorageClass, sourceExp)
	}
	if classExp != "" {
		v.add("spec.target.storageClassName", t.StorageClassName, classExp)
	}
	// One declared class serves every claim template, and it names the
	// filesystem a new ordinal's volume is formatted with.
	if b.DeclaresStorageClass() && len(s.Source.Devices) > 0 {
		first := s.Source.Devices[0].FSType
		for i, d := range s.Source.Devices[1:] {
			if d.FSType != first {
				v.add(fmt.Sprintf("spec.source.devices[%d].fsType", i+1), d.FSType, fmt.Sprintf("%s, as spec.source.devices[0]: the one StorageClass graft declares formats every new claim with one filesystem (or set spec.target.binding.storageClass %s)", first, StorageClassExisting))
			}
		}
	}
}
