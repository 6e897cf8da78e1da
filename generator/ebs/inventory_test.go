package ebs_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/internal/testkit"
)

// TestLoadInventoryIsBounded: the inventory is read like every other input:
// at most boundedio.MaxFileBytes, and not past a signal (a FIFO with no
// writer in its place must not keep graft alive).
func TestLoadInventoryIsBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(boundedio.MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ebs.LoadInventory(t.Context(), big); !errors.Is(err, boundedio.ErrTooLarge) {
		t.Fatalf("an inventory over the limit: %v, want boundedio.ErrTooLarge", err)
	}
	if inv, err := ebs.LoadInventory(t.Context(), filepath.Join(dir, "missing.json")); inv != nil || err != nil {
		t.Fatalf("a missing inventory: %v, %v, want nil, nil", inv, err)
	}
	testkit.WantDeadlineOnFIFO(t, "fifo.json", func(ctx context.Context, path string) error {
		_, err := ebs.LoadInventory(ctx, path)
		return err
	})
}

// TestInventoryJSON: a device's volume attributes are written flat beside
// its name and volume id, under the inventory's keys, and read back as
// they were.
func TestInventoryJSON(t *testing.T) {
	inv := &ebs.Inventory{Migration: "m", SourceRegion: "us-east-1", TargetRegion: "us-east-1", Members: []ebs.Member{{
		StatefulSet: "cassandra", Instance: "i-1", Zone: "us-east-1a", TargetZone: "us-east-1a",
		Devices: []ebs.Device{{Device: "/dev/xvdf", ClaimTemplate: "data", FSType: "xfs", VolumeID: "vol-1",
			VolumeAttrs: ebs.VolumeAttrs{SizeGiB: 200, Type: "gp3", IOPS: 4000, Throughput: 250, Encrypted: true, KMSKeyID: "alias/k"}}},
	}}}
	path := filepath.Join(t.TempDir(), ebs.InventoryFile)
	if err := inv.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Members []struct {
			Devices []map[string]any `json:"devices"`
		} `json:"members"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"claimTemplate", "device", "encrypted", "fsType", "iops", "kmsKeyId", "sizeGiB", "throughput", "type", "volumeId"}
	if got := slices.Sorted(maps.Keys(doc.Members[0].Devices[0])); !slices.Equal(got, want) {
		t.Errorf("a device's keys: %v, want %v\n%s", got, want, raw)
	}
	back, err := ebs.LoadInventory(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, inv) {
		t.Errorf("read back:\n%+v\nwant\n%+v", back, inv)
	}
}

// TestLoadInventoryIsStrict: a field graft does not write (a hand edit's
// typo) or anything after the object is an error naming the file, not
// silently dropped; what graft wrote reads back.
func TestLoadInventoryIsStrict(t *testing.T) {
	dir := t.TempDir()
	good := `{"migration": "m", "sourceRegion": "us-east-1", "targetRegion": "us-east-1", "members": []}`
	for name, c := range map[string]struct{ text, want string }{
		"as written":    {good, ""},
		"unknown field": {`{"migration": "m", "memebrs": []}`, `unknown field "memebrs"`},
		"second value":  {good + "\n{}", "more after the inventory's JSON object"},
		"trailing junk": {good + "}", "more after the inventory's JSON object"},
	} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ebs.LoadInventory(context.Background(), path)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path)):
			t.Errorf("%s: %v, expected an error naming %s and saying %q", name, err, path, c.want)
		}
	}
}
