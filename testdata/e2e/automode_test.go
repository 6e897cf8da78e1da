package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/graftctl/graft/testdata/e2e/harness"
)

// TestAutoModeZoneKey (issue 12, part 2): the harness's EKS Auto Mode nodes
// are labelled as Auto Mode labels them (topology.kubernetes.io/zone,
// compute-type auto, no topology.ebs.csi.aws.com/zone), and the Auto Mode
// examples schedule there (TestExampleOverlays: assertLanded requires an
// Auto Mode PV's pod on such a node). A copy of the Auto Mode example whose
// PV states its zone with the self-managed driver's key is denied by graft
// check (GRAFT025) and, applied anyway, its claim binds and its pod can go
// nowhere.
func TestAutoModeZoneKey(t *testing.T) {
	src := filepath.Join(repoRoot, "overlays", "cassandra-3node-auto-mode")
	t.Run("ebs-zone-key", func(t *testing.T) {
		why := "an Auto Mode PV with zone key " + harness.EBSZoneLabel
		_, b, target := prepareFrom(t, src, why, "GRAFT025", func(oc overlayCopy, m member) {
			n := editObjects(t, oc.dir, func(u *unstructured.Unstructured) bool {
				if !isKind(u, "PersistentVolume", m.pv.Name) {
					return false
				}
				terms, _, _ := unstructured.NestedSlice(u.Object, "spec", "nodeAffinity", "required", "nodeSelectorTerms")
				changed := false
				for _, term := range terms {
					exprs, _ := term.(map[string]any)["matchExpressions"].([]any)
					for _, e := range exprs {
						em := e.(map[string]any)
						if em["key"] == harness.ZoneLabel {
							em["key"] = harness.EBSZoneLabel
							changed = true
						}
					}
				}
				return changed && unstructured.SetNestedSlice(u.Object, terms, "spec", "nodeAffinity", "required", "nodeSelectorTerms") == nil
			})
			if n != 1 {
				t.Fatalf("edited %d PVs, want 1", n)
			}
		})
		key, zone, err := pvZone(b.pvs[target.pv.Name])
		if err != nil || key != harness.EBSZoneLabel {
			t.Fatalf("built PV %s: zone key %q (%v), want the corrupted %s", target.pv.Name, key, err, harness.EBSZoneLabel)
		}
		// The zone has nodes with that key (self-managed) and Auto Mode
		// nodes without it: only the key keeps the pod off the latter.
		ctx := ctxFor(t, 30*time.Second)
		nodes, err := cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: harness.ZoneLabel + "=" + zone})
		if err != nil {
			t.Fatal(err)
		}
		var auto, ebs int
		for i := range nodes.Items {
			if isAutoModeNode(&nodes.Items[i]) == nil {
				auto++
			}
			if nodes.Items[i].Labels[harness.EBSZoneLabel] == zone {
				ebs++
			}
		}
		if auto == 0 || ebs == 0 {
			t.Fatalf("zone %s has %d Auto Mode nodes and %d nodes labelled %s: want both", zone, auto, ebs, harness.EBSZoneLabel)
		}
		deployBoundUnschedulable(t, b, target, "the wrong key")
	})
}

// isAutoModeNode fails unless a node is labelled as EKS Auto Mode labels its
// nodes and runs only Auto Mode's EBS driver.
func isAutoModeNode(n *corev1.Node) error {
	var problems []string
	if n.Labels[harness.ComputeTypeLabel] != harness.ComputeTypeAuto {
		problems = append(problems, fmt.Sprintf("%s=%q", harness.ComputeTypeLabel, n.Labels[harness.ComputeTypeLabel]))
	}
	if v, ok := n.Labels[harness.EBSZoneLabel]; ok {
		problems = append(problems, fmt.Sprintf("%s=%q", harness.EBSZoneLabel, v))
	}
	if n.Labels[harness.ZoneLabel] == "" {
		problems = append(problems, "no "+harness.ZoneLabel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cn, err := cluster.Client.StorageV1().CSINodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	runsAuto := false
	for _, d := range cn.Spec.Drivers {
		if d.Name != harness.AutoModeDriver {
			problems = append(problems, "runs "+d.Name)
		}
		runsAuto = runsAuto || d.Name == harness.AutoModeDriver
	}
	if !runsAuto {
		problems = append(problems, "does not run "+harness.AutoModeDriver)
	}
	if len(problems) > 0 {
		return fmt.Errorf("node %s is no EKS Auto Mode node: %s", n.Name, strings.Join(problems, ", "))
	}
	return nil
}
