// Package opsim makes, for tests, the StatefulSets that cass-operator and
// ECK create from their resources: named by graft's naming rules (package
// workload) and shaped as the operators' code shapes them (name, labels,
// serviceName, replicas, volumeClaimTemplates and the zone affinity), so
// that render's tests and the e2e suite can show that the StatefulSet
// controller adopts graft's claims without running the operators.
//
// cass-operator: pkg/reconciliation/construct_statefulset.go
// newStatefulSetForCassandraDatacenter, rackNodeAffinitylabels;
// construct_podtemplatespec.go calculateNodeAffinity. ECK:
// pkg/controller/elasticsearch/nodespec/statefulset.go BuildStatefulSet.
package opsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/graftctl/graft/generator/workload"
)

type cassandraDatacenter struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		ClusterName        string            `json:"clusterName"`
		DatacenterName     string            `json:"datacenterName"`
		Size               int32             `json:"size"`
		NodeAffinityLabels map[string]string `json:"nodeAffinityLabels"`
		Racks              []struct {
			Name               string            `json:"name"`
			Zone               string            `json:"zone"`
			NodeAffinityLabels map[string]string `json:"nodeAffinityLabels"`
		} `json:"racks"`
		StorageConfig struct {
			CassandraDataVolumeClaimSpec *corev1.PersistentVolumeClaimSpec `json:"cassandraDataVolumeClaimSpec"`
			AdditionalVolumes            []struct {
				Name      string                            `json:"name"`
				MountPath string                            `json:"mountPath"`
				PVCSpec   *corev1.PersistentVolumeClaimSpec `json:"pvcSpec"`
			} `json:"additionalVolumes"`
		} `json:"storageConfig"`
	} `json:"spec"`
	Status struct {
		DatacenterName string `json:"datacenterName"`
	} `json:"status"`
}

type elasticsearch struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		NodeSets []struct {
			Name                 string                         `json:"name"`
			Count                int32                          `json:"count"`
			PodTemplate          corev1.PodTemplateSpec         `json:"podTemplate"`
			VolumeClaimTemplates []corev1.PersistentVolumeClaim `json:"volumeClaimTemplates"`
		} `json:"nodeSets"`
	} `json:"spec"`
}

// Labels cass-operator puts on a rack's StatefulSet, pods and claims
// (apis/cassandra/v1beta1/cassandradatacenter_types.go GetRackLabels).
const (
	ClusterLabel    = "cassandra.datastax.com/cluster"
	DatacenterLabel = "cassandra.datastax.com/datacenter"
	RackLabel       = "cassandra.datastax.com/rack"
	// ECK's (pkg/controller/elasticsearch/label).
	ESClusterLabel     = "elasticsearch.k8s.elastic.co/cluster-name"
	ESStatefulSetLabel = "elasticsearch.k8s.elastic.co/statefulset-name"
)

var labelValueRegexp = regexp.MustCompile(`(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?`)

// CleanLabelValue is cass-operator's (cassandradatacenter_types.go).
func CleanLabelValue(v string) string {
	return strings.Join(labelValueRegexp.FindAllString(strings.ReplaceAll(v, " ", ""), -1), "")
}

// FromYAML returns the StatefulSets the operators would create for every
// CassandraDatacenter and Elasticsearch in a multi-document YAML stream
// (the built overlay).
func FromYAML(data []byte) ([]appsv1.StatefulSet, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []map[string]any
	for range 100000 {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return StatefulSets(objs)
}

// StatefulSets returns the StatefulSets the operators would create for
// the CassandraDatacenters and Elasticsearch resources among objs.
func StatefulSets(objs []map[string]any) ([]appsv1.StatefulSet, error) {
	var out []appsv1.StatefulSet
	for _, obj := range objs {
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		switch obj["kind"] {
		case workload.CassandraDatacenterKind:
			var dc cassandraDatacenter
			if err := json.Unmarshal(data, &dc); err != nil {
				return nil, err
			}
			sets, err := cassandraStatefulSets(dc)
			if err != nil {
				return nil, err
			}
			out = append(out, sets...)
		case workload.ElasticsearchKind:
			var es elasticsearch
			if err := json.Unmarshal(data, &es); err != nil {
				return nil, err
			}
			out = append(out, elasticsearchStatefulSets(es)...)
		}
	}
	return out, nil
}

func cassandraStatefulSets(dc cassandraDatacenter) ([]appsv1.StatefulSet, error) {
	if dc.Spec.StorageConfig.CassandraDataVolumeClaimSpec == nil {
		return nil, fmt.Errorf("CassandraDatacenter %s: StorageConfig.cassandraDataVolumeClaimSpec is required", dc.Metadata.Name)
	}
	naming := workload.CassandraDatacenter{ClusterName: dc.Spec.ClusterName, Name: dc.Metadata.Name, DatacenterName: dc.Spec.DatacenterName,
		StatusDatacenterName: dc.Status.DatacenterName, Version: workload.CassOperatorLabelResourceName}
	counts := workload.SplitRacks(int(dc.Spec.Size), len(dc.Spec.Racks))
	var out []appsv1.StatefulSet
	for i, rack := range dc.Spec.Racks {
		labels := map[string]string{
			ClusterLabel:    CleanLabelValue(dc.Spec.ClusterName),
			DatacenterLabel: CleanLabelValue(dc.Metadata.Name),
			RackLabel:       CleanLabelValue(rack.Name),
		}
		templates := []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: workload.CassandraDataClaim, Labels: maps.Clone(labels)},
			Spec:       *dc.Spec.StorageConfig.CassandraDataVolumeClaimSpec,
		}}
		mounts := []corev1.VolumeMount{{Name: workload.CassandraDataClaim, MountPath: "/var/lib/cassandra"}}
		for _, av := range dc.Spec.StorageConfig.AdditionalVolumes {
			if av.PVCSpec != nil {
				templates = append(templates, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: av.Name, Labels: maps.Clone(labels)}, Spec: *av.PVCSpec})
				mounts = append(mounts, corev1.VolumeMount{Name: av.Name, MountPath: av.MountPath})
			}
		}
		// rackNodeAffinitylabels: the datacenter's labels, the rack's over
		// them, and the deprecated zone as topology.kubernetes.io/zone.
		affinity := maps.Clone(dc.Spec.NodeAffinityLabels)
		if affinity == nil {
			affinity = map[string]string{}
		}
		maps.Copy(affinity, rack.NodeAffinityLabels)
		if rack.Zone != "" {
			affinity["topology.kubernetes.io/zone"] = rack.Zone
		}
		replicas := int32(counts[i])
		resource := naming.ResourceName()
		out = append(out, appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: metav1.ObjectMeta{Name: naming.StatefulSet(rack.Name), Namespace: dc.Metadata.Namespace, Labels: maps.Clone(labels)},
			Spec: appsv1.StatefulSetSpec{
				Selector:            &metav1.LabelSelector{MatchLabels: maps.Clone(labels)},
				Replicas:            &replicas,
				ServiceName:         workload.CleanupForKubernetes(dc.Spec.ClusterName) + "-" + resource + "-all-pods-service",
				PodManagementPolicy: appsv1.ParallelPodManagement,
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels)},
					Spec: corev1.PodSpec{
						Affinity:   nodeAffinity(affinity),
						Containers: []corev1.Container{{Name: "cassandra", Image: "cr.k8ssandra.io/k8ssandra/cass-management-api:4.1", VolumeMounts: mounts}},
					},
				},
				VolumeClaimTemplates: templates,
			},
		})
	}
	return out, nil
}

// nodeAffinity is calculateNodeAffinity: one term requiring every label,
// in key order.
func nodeAffinity(labels map[string]string) *corev1.Affinity {
	if len(labels) == 0 {
		return nil
	}
	var reqs []corev1.NodeSelectorRequirement
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		reqs = append(reqs, corev1.NodeSelectorRequirement{Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{labels[k]}})
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: reqs}},
	}}}
}

func elasticsearchStatefulSets(es elasticsearch) []appsv1.StatefulSet {
	var out []appsv1.StatefulSet
	for _, ns := range es.Spec.NodeSets {
		name := workload.ElasticsearchStatefulSet(es.Metadata.Name, ns.Name)
		labels := map[string]string{ESClusterLabel: es.Metadata.Name, ESStatefulSetLabel: name}
		templates := ns.VolumeClaimTemplates
		if len(templates) == 0 {
			templates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: workload.ElasticsearchDataClaim}}}
		}
		var mounts []corev1.VolumeMount
		for _, t := range templates {
			path := "/usr/share/elasticsearch/" + t.Name
			if t.Name == workload.ElasticsearchDataClaim {
				path = "/usr/share/elasticsearch/data"
			}
			mounts = append(mounts, corev1.VolumeMount{Name: t.Name, MountPath: path})
		}
		pod := ns.PodTemplate
		pod.Labels = maps.Clone(labels)
		pod.Spec.Containers = []corev1.Container{{Name: "elasticsearch", Image: "docker.elastic.co/elasticsearch/elasticsearch:8", VolumeMounts: mounts}}
		replicas := ns.Count
		out = append(out, appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: es.Metadata.Namespace, Labels: maps.Clone(labels)},
			Spec: appsv1.StatefulSetSpec{
				Selector:             &metav1.LabelSelector{MatchLabels: maps.Clone(labels)},
				Replicas:             &replicas,
				ServiceName:          name, // nodespec.HeadlessServiceName
				PodManagementPolicy:  appsv1.ParallelPodManagement,
				Template:             pod,
				VolumeClaimTemplates: templates,
			},
		})
	}
	return out
}
