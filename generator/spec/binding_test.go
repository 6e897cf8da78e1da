package spec_test

import (
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/spec"
)

// TestBindingDefaults: static is the default and takes no StorageClass
// source; provisioned declares its class unless told it exists.
func TestBindingDefaults(t *testing.T) {
	for extra, want := range map[string]spec.Binding{
		"": {Mode: spec.BindingStatic},
		"    storageClassName: gp3\n    binding:\n      mode: provisioned\n":                               {Mode: spec.BindingProvisioned, StorageClass: spec.StorageClassDeclare},
		"    storageClassName: gp3\n    binding:\n      mode: provisioned\n      storageClass: existing\n": {Mode: spec.BindingProvisioned, StorageClass: spec.StorageClassExisting},
	} {
		m, err := spec.Parse([]byte(withCluster(extra)))
		if err != nil {
			t.Fatalf("%q: %v", extra, err)
		}
		if got := m.Spec.Target.Binding; got != want {
			t.Errorf("%q: binding %+v, want %+v", extra, got, want)
		}
		if got := m.Spec.Target.Binding.DeclaresStorageClass(); got != (want.StorageClass == spec.StorageClassDeclare) {
			t.Errorf("%q: DeclaresStorageClass() = %v", extra, got)
		}
	}
}

// TestBindingValidation: the mode is one of two; provisioned needs a
// class name and a source; static takes no source; a declared class
// formats every new claim with one filesystem.
func TestBindingValidation(t *testing.T) {
	provisioned := "    binding:\n      mode: provisioned\n"
	assertTargetProblems(t, map[string][]string{
		"    binding:\n      mode: dynamic\n":     {`spec.target.binding.mode: "dynamic", expected one of static, provisioned`},
		"    binding:\n      mode: Provisioned\n": {`spec.target.binding.mode: "Provisioned"`},
		provisioned: {`spec.target.storageClassName: "", expected the StorageClass that provisions new ordinals`},
		"    storageClassName: GP3\n" + provisioned:                                  {`spec.target.storageClassName: "GP3", expected the StorageClass`},
		"    storageClassName: gp3\n" + provisioned + "      storageClass: create\n": {`spec.target.binding.storageClass: "create", expected one of declare, existing`},
		"    binding:\n      storageClass: declare\n":                                {`spec.target.binding.storageClass: "declare", expected unset: only binding mode provisioned`},
		"    storageClassName: \"a..b\"\n":                                           {`spec.target.storageClassName: "a..b", expected "" (no class) or a DNS-1123 subdomain`},
	})
	twoDevices := func(fs2, source string) string {
		doc := withCluster("    storageClassName: gp3\n" + provisioned + source)
		return strings.Replace(doc, "        claimTemplate: data\n", "        claimTemplate: data\n      - name: /dev/xvdg\n        claimTemplate: commitlog\n        fsType: "+fs2+"\n", 1)
	}
	_, err := spec.Parse([]byte(twoDevices("xfs", "")))
	if err == nil || !strings.Contains(err.Error(), `spec.source.devices[1].fsType: "xfs", expected ext4, as spec.source.devices[0]`) {
		t.Errorf("declared class over ext4 and xfs devices: %v", err)
	}
	for _, ok := range []string{twoDevices("ext4", ""), twoDevices("xfs", "      storageClass: existing\n")} {
		if _, err := spec.Parse([]byte(ok)); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// TestBindingExplain: graft plan says what each mode costs: static, the
// new ordinal's Pending claim and no resize; provisioned, the class, where
// it comes from, and the empty re-provisioning of a deleted claim.
func TestBindingExplain(t *testing.T) {
	for extra, wants := range map[string][]string{
		"": {"static (the default)", `storage class ""`, "Pending", "no claim can be resized", "choose before the cut-over"},
		"    storageClassName: gp3\n    binding:\n      mode: provisioned\n":                               {"provisioned through StorageClass gp3 (declared in the overlay)", "can be resized", "provisioned EMPTY", "Retain"},
		"    storageClassName: gp3\n    binding:\n      mode: provisioned\n      storageClass: existing\n": {"(which the cluster must already have)"},
	} {
		m, err := spec.Parse([]byte(withCluster(extra)))
		if err != nil {
			t.Fatal(err)
		}
		got := m.Spec.Target.Explain()
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%q: Explain() lacks %q:\n%s", extra, w, got)
			}
		}
	}
}
