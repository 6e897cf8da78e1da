package ebs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestVolumeParamsIOPSLimits: the IOPS rule and its message agree, with
// EBS's limits. Every refusal that names "at most N" accepts N and refuses
// N+1 (the message once said "at most 2500" of a 5 GiB gp3 volume while
// accepting its 3000 baseline).
func TestVolumeParamsIOPSLimits(t *testing.T) {
	cases := []struct {
		typ  string
		size int32
		iops int32
		ok   bool
		most int32 // the "at most" the message names, when refused for the ratio
	}{
		{"gp3", 5, 3000, true, 0},
		{"gp3", 5, 3001, false, 3000},
		{"gp3", 1, 3000, true, 0},
		{"gp3", 100, 50000, true, 0},
		{"gp3", 100, 50001, false, 50000},
		{"gp3", 200, 80000, true, 0},
		{"gp3", 200, 80001, false, 0}, // over the type's maximum
		{"gp3", 200, 2999, false, 0},  // under the baseline
		{"io1", 100, 5000, true, 0},
		{"io1", 100, 5001, false, 5000},
		{"io1", 2000, 64000, true, 0},
		{"io1", 2000, 64001, false, 0},
		{"io1", 4, 200, true, 0},
		{"io1", 4, 201, false, 200},
		{"io2", 10, 10000, true, 0},
		{"io2", 10, 10001, false, 10000},
		{"io2", 300, 256000, true, 0},
		{"io2", 300, 99, false, 0},
		{"gp2", 100, 300, false, 0},
	}
	atMost := regexp.MustCompile(`at most (\d+);`)
	for _, c := range cases {
		p := VolumeParams{VolumeAttrs: VolumeAttrs{Type: c.typ, SizeGiB: c.size, IOPS: c.iops}}
		why := p.check()
		if (why == "") != c.ok {
			t.Errorf("%s %d GiB %d IOPS: check = %q, want ok=%v", c.typ, c.size, c.iops, why, c.ok)
			continue
		}
		if c.ok {
			continue
		}
		m := atMost.FindStringSubmatch(why)
		if c.most == 0 {
			if m != nil {
				t.Errorf("%s %d GiB %d IOPS: unexpected ratio message %q", c.typ, c.size, c.iops, why)
			}
			if !strings.Contains(why, fmt.Sprint(c.iops)) {
				t.Errorf("message does not name the value: %q", why)
			}
			continue
		}
		if m == nil {
			t.Errorf("%s %d GiB %d IOPS: message names no limit: %q", c.typ, c.size, c.iops, why)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if int32(n) != c.most {
			t.Errorf("%s %d GiB: message says at most %d, want %d", c.typ, c.size, n, c.most)
		}
		if w := (VolumeParams{VolumeAttrs: VolumeAttrs{Type: c.typ, SizeGiB: c.size, IOPS: int32(n)}}).check(); w != "" {
			t.Errorf("%s %d GiB: the message's limit %d is itself refused: %q", c.typ, c.size, n, w)
		}
		if w := (VolumeParams{VolumeAttrs: VolumeAttrs{Type: c.typ, SizeGiB: c.size, IOPS: int32(n) + 1}}).check(); w == "" {
			t.Errorf("%s %d GiB: %d, one above the message's limit, is accepted", c.typ, c.size, n+1)
		}
	}
}
