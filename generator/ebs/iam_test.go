package ebs_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/ebs"
)

// kmsStatements returns the policy's statements with a KMS action.
func kmsStatements(doc ebs.PolicyDocument) []ebs.Statement {
	var out []ebs.Statement
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if strings.HasPrefix(a, "kms:") {
				out = append(out, st)
				break
			}
		}
	}
	return out
}

func TestIAMPolicyKMS(t *testing.T) {
	validSid := regexp.MustCompile(`^[A-Za-z0-9]+$`)
	check := func(t *testing.T, doc ebs.PolicyDocument) {
		t.Helper()
		var b bytes.Buffer
		if err := doc.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || back["Version"] != "2012-10-17" {
			t.Fatalf("not IAM JSON: %v\n%s", err, b.String())
		}
		sids := map[string]bool{}
		for _, st := range doc.Statement {
			if !validSid.MatchString(st.Sid) || sids[st.Sid] {
				t.Errorf("Sid %q is not alphanumeric or not unique", st.Sid)
			}
			sids[st.Sid] = true
			if st.Effect != "Allow" || len(st.Action) == 0 || len(st.Resource) == 0 {
				t.Errorf("statement %s: %+v", st.Sid, st)
			}
		}
		for _, st := range kmsStatements(doc) {
			if via := st.Condition["StringEquals"]["kms:ViaService"]; via == nil {
				t.Errorf("%s: KMS not restricted to EC2 (kms:ViaService): %v", st.Sid, st.Condition)
			}
			if slices.Contains(st.Action, "kms:CreateGrant") && st.Condition["Bool"]["kms:GrantIsForAWSResource"] != true {
				t.Errorf("%s: CreateGrant without kms:GrantIsForAWSResource", st.Sid)
			}
		}
	}

	t.Run("target key ARN", func(t *testing.T) {
		m := (&simEnv{t: t}).spec(simCase{Nodes: 1, Devices: 1, KMSKey: simKey})
		doc := ebs.IAMPolicy(m)
		check(t, doc)
		encrypting := map[string]bool{"kms:GenerateDataKeyWithoutPlaintext": true, "kms:ReEncryptTo": true}
		seen := map[string]bool{}
		for _, st := range kmsStatements(doc) {
			wildcard := slices.Contains(st.Resource, "*")
			for _, a := range st.Action {
				if wildcard && encrypting[a] {
					t.Errorf("%s grants %s on \"*\": with a key ARN in the spec it must be that key only", st.Sid, a)
				}
				if !wildcard {
					seen[a] = true
				}
			}
			if !wildcard && !slices.Equal(st.Resource, []string{simKey}) {
				t.Errorf("%s: resource %v, want exactly the spec's key %s", st.Sid, st.Resource, simKey)
			}
			if wildcard && !strings.Contains(st.Sid, "SourceKeys") {
				t.Errorf("%s: \"*\" must be the source keys' statement, named so", st.Sid)
			}
		}
		for _, a := range []string{"kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptTo", "kms:CreateGrant", "kms:DescribeKey"} {
			if !seen[a] {
				t.Errorf("the target key lacks %s", a)
			}
		}
	})

	t.Run("no target key", func(t *testing.T) {
		m := (&simEnv{t: t}).spec(simCase{Nodes: 1, Devices: 1})
		doc := ebs.IAMPolicy(m)
		check(t, doc)
		for _, st := range kmsStatements(doc) {
			if !slices.Equal(st.Resource, []string{"*"}) {
				t.Errorf("%s: resource %v, want \"*\" (the key is chosen by EC2)", st.Sid, st.Resource)
			}
		}
	})

	t.Run("target key alias", func(t *testing.T) {
		m := (&simEnv{t: t}).spec(simCase{Nodes: 1, Devices: 1, KMSKey: "alias/graft"})
		doc := ebs.IAMPolicy(m)
		check(t, doc)
		for _, st := range kmsStatements(doc) {
			if slices.Contains(st.Resource, "alias/graft") {
				t.Errorf("%s: an alias is not a KMS key resource: %v", st.Sid, st.Resource)
			}
		}
	})
}

// TestIAMPolicyRequiresClusterTags: with spec.target.cluster, CreateVolume
// is allowed only with the tags the cluster's driver needs in the request;
// without it, only graft's own tag is required, as before.
func TestIAMPolicyRequiresClusterTags(t *testing.T) {
	cases := map[string]map[string]any{
		"": {"aws:RequestTag/graft:migration": "sim"},
		"ebs-csi": {"aws:RequestTag/graft:migration": "sim",
			"aws:RequestTag/ebs.csi.aws.com/cluster": "true", "aws:RequestTag/ebs.csi.aws.com/cluster-name": "prod"},
		"eks-auto-mode": {"aws:RequestTag/graft:migration": "sim", "aws:RequestTag/eks:eks-cluster-name": "prod"},
	}
	for driver, want := range cases {
		m := (&simEnv{t: t}).spec(simCase{Nodes: 1, Devices: 1, ExtraSpec: func(y string) string {
			if driver == "" {
				return y
			}
			return strings.Replace(y, "    namespace: db\n", "    namespace: db\n    cluster: {name: prod, storageDriver: "+driver+"}\n", 1)
		}})
		var found bool
		for _, st := range ebs.IAMPolicy(m).Statement {
			if st.Sid != "GraftCreateTaggedVolumes" {
				if slices.Contains(st.Action, "ec2:CreateVolume") && slices.ContainsFunc(st.Resource, func(r string) bool { return strings.Contains(r, ":volume/") }) {
					t.Errorf("%s: %s also allows CreateVolume on volumes", driver, st.Sid)
				}
				continue
			}
			found = true
			if got := st.Condition["StringEquals"]; !reflect.DeepEqual(got, want) {
				t.Errorf("%q: CreateVolume condition %v, want %v", driver, got, want)
			}
		}
		if !found {
			t.Errorf("%q: no GraftCreateTaggedVolumes statement", driver)
		}
	}
}

// TestIAMPolicyAddsClusterTagsOnlyToOwnVolumes: with spec.target.cluster,
// CreateTags outside a create is allowed on the target region's volumes
// that carry graft:migration, with only the cluster's tag keys, each only
// with its value; without a cluster, CreateTags stays tied to a create.
func TestIAMPolicyAddsClusterTagsOnlyToOwnVolumes(t *testing.T) {
	cases := map[string]map[string]map[string]any{
		"": nil,
		"ebs-csi": {
			"StringEquals":              {"aws:ResourceTag/graft:migration": "sim"},
			"StringEqualsIfExists":      {"aws:RequestTag/ebs.csi.aws.com/cluster": "true", "aws:RequestTag/ebs.csi.aws.com/cluster-name": "prod"},
			"ForAllValues:StringEquals": {"aws:TagKeys": []string{"ebs.csi.aws.com/cluster", "ebs.csi.aws.com/cluster-name"}},
		},
		"eks-auto-mode": {
			"StringEquals":              {"aws:ResourceTag/graft:migration": "sim"},
			"StringEqualsIfExists":      {"aws:RequestTag/eks:eks-cluster-name": "prod"},
			"ForAllValues:StringEquals": {"aws:TagKeys": []string{"eks:eks-cluster-name"}},
		},
	}
	for driver, want := range cases {
		m := (&simEnv{t: t}).spec(simCase{Nodes: 1, Devices: 1, ExtraSpec: withCluster(driver)})
		var got map[string]map[string]any
		for _, st := range ebs.IAMPolicy(m).Statement {
			if !slices.Contains(st.Action, "ec2:CreateTags") {
				continue
			}
			if _, onCreate := st.Condition["StringEquals"]["ec2:CreateAction"]; onCreate {
				continue
			}
			if got != nil {
				t.Errorf("%q: a second CreateTags statement %s", driver, st.Sid)
			}
			got = st.Condition
			if !reflect.DeepEqual(st.Resource, []string{"arn:aws:ec2:us-east-1:*:volume/*"}) || !reflect.DeepEqual(st.Action, []string{"ec2:CreateTags"}) {
				t.Errorf("%q: %s allows %v on %v, want ec2:CreateTags on the target region's volumes", driver, st.Sid, st.Action, st.Resource)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: CreateTags outside a create: condition %v, want %v", driver, got, want)
		}
	}
}
