package main

import (
	"io/fs"
	"testing/fstest"

	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/templates"
)

// demoKind is what `graft demo --kind` migrates into: the spec, the base
// the GitOps repository starts with, and the legacy nodes' names.
type demoKind struct {
	migration string
	// app and nodeName describe the simulated legacy nodes (Name tags
	// <nodeName>-0..2, tag app=<nodeName>).
	app, nodeName string
	// baseDir and baseWhat describe the repository's base.
	baseDir, baseWhat string
	spec              string
	files             map[string]string // base files by repository path; nil: templates.DemoBase
}

func (k demoKind) base() fs.FS {
	if k.files == nil {
		return templates.DemoBase()
	}
	m := fstest.MapFS{}
	for p, data := range k.files {
		m[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	return m
}

// demoKinds are the demos by --kind.
var demoKinds = map[string]demoKind{
	spec.WorkloadStatefulSet: {migration: "cassandra-demo", app: "Cassandra", nodeName: "cassandra",
		baseDir: "base/cassandra", baseWhat: "Cassandra StatefulSet", spec: demoSpec},
	spec.WorkloadCassOperator: {migration: "cass-operator-demo", app: "Cassandra", nodeName: "cassandra",
		baseDir: "base/cassandra-dc1", baseWhat: "cass-operator CassandraDatacenter", spec: demoCassOperatorSpec,
		files: map[string]string{
			"base/cassandra-dc1/kustomization.yaml":       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cassandradatacenter.yaml\n",
			"base/cassandra-dc1/cassandradatacenter.yaml": demoCassandraDatacenter,
		}},
	spec.WorkloadECK: {migration: "eck-demo", app: "Elasticsearch", nodeName: "elasticsearch",
		baseDir: "base/elasticsearch", baseWhat: "ECK Elasticsearch", spec: demoECKSpec,
		files: map[string]string{
			"base/elasticsearch/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - elasticsearch.yaml\n",
			"base/elasticsearch/elasticsearch.yaml": demoElasticsearch,
		}},
	spec.WorkloadClaimsOnly: {migration: "claims-only-demo", app: "Cassandra", nodeName: "cassandra",
		baseDir: "charts/cassandra", baseWhat: "Bitnami Cassandra chart's rendered StatefulSet (deployed by the chart, read by graft)", spec: demoClaimsOnlySpec,
		files: map[string]string{
			"charts/cassandra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - statefulset.yaml\n",
			"charts/cassandra/statefulset.yaml":   demoChartStatefulSet,
		}},
}

const demoCassOperatorSpec = `# graft demo --kind cass-operator: a 3-node Cassandra on EC2 (simulated) into
# cass-operator: one rack per zone, the StatefulSets named as the operator
# names them (democluster-dc1-r1-sts ...).
apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata:
  name: cass-operator-demo
spec:
  source:
    region: us-east-1
    filters:
      - name: tag:app
        values: [cassandra]
    devices:
      - name: /dev/xvdf
        claimTemplate: server-data
  mapping:
    sort:
      by: privateIp
  target:
    namespace: cassandra
    workload:
      kind: cass-operator
      cassandraDatacenter:
        name: dc1
        clusterName: Demo Cluster
        size: 3
        racks:
          - {name: r1, zone: us-east-1a, sourceZone: us-east-1a}
          - {name: r2, zone: us-east-1b, sourceZone: us-east-1b}
          - {name: r3, zone: us-east-1c, sourceZone: us-east-1c}
    volume:
      type: gp3
  gitops:
    engine: flux
    base: ../../base/cassandra-dc1
    overlayPath: overlays/cass-operator-demo
    repo: "" # set by the demo
    baseBranch: main
    provider: none
    engineObject: true
    ciWorkflow: true
`

const demoCassandraDatacenter = `apiVersion: cassandra.datastax.com/v1beta1
kind: CassandraDatacenter
metadata:
  name: dc1
spec:
  clusterName: Demo Cluster
  serverType: cassandra
  serverVersion: "4.1.5"
  size: 3
  racks:
    - name: r1
    - name: r2
    - name: r3
  storageConfig:
    cassandraDataVolumeClaimSpec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 100Gi
`

const demoECKSpec = `# graft demo --kind eck: a 3-node Elasticsearch on EC2 (simulated) into ECK:
# one nodeSet per zone, the StatefulSets named as ECK names them
# (demo-es-zone-a ...).
apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata:
  name: eck-demo
spec:
  source:
    region: us-east-1
    filters:
      - name: tag:app
        values: [elasticsearch]
    devices:
      - name: /dev/xvdf
        claimTemplate: elasticsearch-data
  mapping:
    sort:
      by: privateIp
  target:
    namespace: elastic
    workload:
      kind: eck
      elasticsearch:
        name: demo
        nodeSets:
          - {name: zone-a, count: 1, zone: us-east-1a, sourceZone: us-east-1a}
          - {name: zone-b, count: 1, zone: us-east-1b, sourceZone: us-east-1b}
          - {name: zone-c, count: 1, zone: us-east-1c, sourceZone: us-east-1c}
    volume:
      type: gp3
  gitops:
    engine: flux
    base: ../../base/elasticsearch
    overlayPath: overlays/eck-demo
    repo: "" # set by the demo
    baseBranch: main
    provider: none
    engineObject: true
    ciWorkflow: true
`

var demoElasticsearch = `apiVersion: elasticsearch.k8s.elastic.co/v1
kind: Elasticsearch
metadata:
  name: demo
spec:
  version: 8.15.3
  nodeSets:
` + demoNodeSet("zone-a") + demoNodeSet("zone-b") + demoNodeSet("zone-c")

func demoNodeSet(name string) string {
	return `    - name: ` + name + `
      count: 1
      volumeClaimTemplates:
        - metadata:
            name: elasticsearch-data
          spec:
            accessModes: [ReadWriteOnce]
            resources:
              requests:
                storage: 100Gi
`
}

const demoClaimsOnlySpec = `# graft demo --kind claims-only: a 3-node Cassandra on EC2 (simulated) into
# a Helm chart's StatefulSet (Bitnami's cassandra, release "cassandra"):
# graft writes only the PVs and the pre-bound PVCs data-cassandra-0..2.
apiVersion: graft.graftctl.io/v1alpha1
kind: Migration
metadata:
  name: claims-only-demo
spec:
  source:
    region: us-east-1
    filters:
      - name: tag:app
        values: [cassandra]
    devices:
      - name: /dev/xvdf
        claimTemplate: data
  mapping:
    tagRegex:
      tag: Name
      pattern: '^cassandra-(?P<ordinal>[0-9]+)$'
  target:
    namespace: cassandra
    workload:
      kind: claims-only
    statefulSets:
      - name: cassandra
        replicas: 3
    volume:
      type: gp3
  gitops:
    engine: flux
    base: ../../charts/cassandra
    overlayPath: overlays/claims-only-demo
    repo: "" # set by the demo
    baseBranch: main
    provider: none
    engineObject: true
    ciWorkflow: true
`

const demoChartStatefulSet = `# helm template cassandra bitnami/cassandra --set replicaCount=3,persistence.storageClass=-
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: cassandra
spec:
  replicas: 3
  serviceName: cassandra-headless
  selector:
    matchLabels:
      app.kubernetes.io/name: cassandra
  template:
    metadata:
      labels:
        app.kubernetes.io/name: cassandra
    spec:
      containers:
        - name: cassandra
          image: docker.io/bitnami/cassandra:5.0.2
          volumeMounts:
            - name: data
              mountPath: /bitnami/cassandra
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: ""
        resources:
          requests:
            storage: 100Gi
`
