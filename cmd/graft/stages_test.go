package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sharedRun is what one way through the clone stages left: the inventory,
// the record and the log lines of each stage, normalised.
type sharedRun struct {
	inventory, record string
	// stages holds, per stage ("discover", "clone --phase precopy", ...),
	// the normalised log lines it printed, sorted (members run
	// concurrently, so their lines interleave in any order).
	stages map[string][]string
}

var (
	logTime   = regexp.MustCompile(`^time=\S+ `)
	stageLine = regexp.MustCompile(`msg="== ([^"]+)"`)
	// progressPercent is the percent of a progress line (msg=progress).
	progressPercent = regexp.MustCompile(` percent=\d+$`)
	createdID       = regexp.MustCompile(`\b(snap|vol)-[0-9a-f]{8,17}\b`)
)

// normaliseCreated replaces what differs between two simulated clusters seeded
// alike: the temporary directory, and the ids of what graft created (the
// source's ids, seeded, are kept). Nothing else is touched.
func normaliseCreated(s, dir string, source []string) string {
	s = strings.ReplaceAll(s, dir, "DIR")
	return createdID.ReplaceAllStringFunc(s, func(id string) string {
		if slices.Contains(source, id) {
			return id
		}
		return strings.SplitN(id, "-", 2)[0] + "-CREATED"
	})
}

// segments splits a command's stderr by the stages it announced.
func (r *sharedRun) segments(stderr, dir string, source []string) {
	stage := ""
	for _, line := range strings.Split(stderr, "\n") {
		if m := stageLine.FindStringSubmatch(line); m != nil {
			stage = m[1]
			continue
		}
		if !strings.HasPrefix(line, "time=") || stage == "" {
			continue // the plan's text, on stderr for run
		}
		line = normaliseCreated(logTime.ReplaceAllString(line, ""), dir, source)
		// What graft clone says to do next once a phase is done: run goes
		// on instead. The one line that differs on purpose.
		if isAfterClone(line) {
			continue
		}
		// A progress line is logged when a member's step crosses a
		// quarter; the percent it shows, and which quarters a poll
		// happens to see, depend on how the members' goroutines are
		// scheduled. Which steps each member reported does not.
		if progressPercent.MatchString(line) {
			line = progressPercent.ReplaceAllString(line, "")
			if slices.Contains(r.stages[stage], line) {
				continue
			}
		}
		r.stages[stage] = append(r.stages[stage], line)
	}
	for k := range r.stages {
		slices.Sort(r.stages[k])
	}
}

func isAfterClone(line string) bool {
	for _, next := range afterClone {
		if strings.Contains(line, next) {
			return true
		}
	}
	return false
}

// discoverAndEdit runs graft discover and then edits the inventory it
// wrote as a reviewer would: the first old becomes new. It returns the
// edited inventory; an inventory without old fails the test.
func discoverAndEdit(t *testing.T, s *cliSim, old, new string) string {
	t.Helper()
	if code, _, errOut := graft(t, "discover", "--spec", s.spec); code != exitOK {
		t.Fatalf("discover: %d %s", code, errOut)
	}
	invPath := filepath.Join(filepath.Dir(s.spec), "graft.inventory.json")
	inv, err := os.ReadFile(invPath)
	must(t, err)
	changed := strings.Replace(string(inv), old, new, 1)
	if changed == string(inv) {
		t.Fatalf("the inventory has no %s to change", old)
	}
	must(t, os.WriteFile(invPath, []byte(changed), 0o644))
	return changed
}

// runShared drives one way through the stages on a new simulated cluster:
// after review (graft discover, whose inventory review then changes in a
// field discovery does not compare) or not, then the commands.
func runShared(t *testing.T, reviewed bool, cmds ...[]string) (*sharedRun, string) {
	t.Helper()
	s := newCLISim(t)
	writeCLIBase(t, s.spec)
	dir := filepath.Dir(s.spec)
	invPath := filepath.Join(dir, "graft.inventory.json")
	var review string
	if reviewed {
		review = discoverAndEdit(t, s, `"privateIp": "`, `"privateIp": "192.0.2.1 reviewed, was `)
	}
	r := &sharedRun{stages: map[string][]string{}}
	source := s.cl.SourceIDs()
	for _, args := range cmds {
		code, _, errOut := graft(t, append(args, "--spec", s.spec, "--yes")...)
		if code != exitOK {
			t.Fatalf("graft %v: exit %d\n%s", args, code, errOut)
		}
		r.segments(errOut, dir, source)
	}
	inv, err := os.ReadFile(invPath)
	must(t, err)
	if reviewed && string(inv) != review {
		t.Errorf("graft %v rewrote the reviewed inventory:\n%s", cmds, inv)
	}
	rec, err := os.ReadFile(filepath.Join(dir, "graft.lock"))
	must(t, err)
	r.inventory, r.record = normaliseCreated(string(inv), dir, source), normaliseCreated(string(rec), dir, source)
	return r, dir
}

// TestCloneAndRunShareStages: graft clone --phase precopy then --phase
// final, and graft run, on the same simulated cluster, write the same
// inventory (the reviewed one stays as it was), the same record and the
// same log lines in every stage they share.
func TestCloneAndRunShareStages(t *testing.T) {
	for _, reviewed := range []bool{false, true} {
		name := map[bool]string{false: "no inventory yet", true: "after graft discover"}[reviewed]
		t.Run(name, func(t *testing.T) {
			clone, _ := runShared(t, reviewed, []string{"clone", "--phase", "precopy"}, []string{"clone", "--phase", "final"})
			run, _ := runShared(t, reviewed, []string{"run"})
			if clone.inventory != run.inventory {
				t.Errorf("the inventories differ:\nclone:\n%s\nrun:\n%s", clone.inventory, run.inventory)
			}
			if clone.record != run.record {
				t.Errorf("the records differ:\nclone:\n%s\nrun:\n%s", clone.record, run.record)
			}
			if n := strings.Count(clone.record, "targetVolume: vol-CREATED"); n != 6 {
				t.Errorf("the record holds %d volumes, want 6:\n%s", n, clone.record)
			}
			for _, stage := range []string{"discover", "clone --phase precopy", "clone --phase final"} {
				c, r := clone.stages[stage], run.stages[stage]
				if stage != "discover" && len(c) == 0 {
					t.Errorf("graft clone logged nothing in stage %q", stage)
				}
				if !slices.Equal(c, r) {
					t.Errorf("stage %q logs differently:\nclone:\n  %s\nrun:\n  %s", stage, strings.Join(c, "\n  "), strings.Join(r, "\n  "))
				}
			}
			for _, want := range []string{`msg="clone finished" phase=precopy`, `msg="clone finished" phase=final`, `msg="record written"`, `msg=progress member=`} {
				if !slices.ContainsFunc(slices.Concat(run.stages["clone --phase precopy"], run.stages["clone --phase final"]), func(l string) bool { return strings.Contains(l, want) }) {
					t.Errorf("run's clone stages lack %s", want)
				}
			}
			written := slices.ContainsFunc(run.stages["clone --phase precopy"], func(l string) bool { return strings.Contains(l, `msg="inventory written"`) })
			if written == reviewed {
				t.Errorf("inventory written by the first clone: %v, want %v (only when there is none)", written, !reviewed)
			}
		})
	}
}

// cloner is a command that clones: its arguments (without --spec and
// --yes) and the next step it names when it stops.
type cloner struct {
	args []string
	next string
}

// eachCloner runs f for graft clone --phase precopy and for graft run,
// each on a fresh simulated cluster (newCLISim) with the CLI's base
// written beside its spec.
func eachCloner(t *testing.T, f func(s *cliSim, c cloner)) {
	t.Helper()
	for _, c := range []cloner{
		{[]string{"clone", "--phase", "precopy"}, "run graft clone --phase precopy again"},
		{[]string{"run"}, "run graft run again"},
	} {
		s := newCLISim(t)
		writeCLIBase(t, s.spec)
		f(s, c)
	}
}

// TestChangedSourceOneRefusal: when the source differs from the reviewed
// inventory, clone and run refuse it with the same message, each naming
// its own next step, and create nothing.
func TestChangedSourceOneRefusal(t *testing.T) {
	refusal := map[string]string{}
	eachCloner(t, func(s *cliSim, c cloner) {
		vol := s.cl.Nodes[0].DataVolumes["/dev/xvdf"]
		discoverAndEdit(t, s, `"volumeId": "`+vol+`"`, `"volumeId": "vol-0123456789abcdef0"`)
		code, _, stderr := graft(t, append(c.args, "--spec", s.spec, "--yes")...)
		msg := stderr[max(0, strings.Index(stderr, "graft "+c.args[0]+": ")):]
		if code != exitError || !strings.Contains(msg, "discover failed: the source changed since") || !strings.Contains(msg, c.next) {
			t.Errorf("graft %v: exit %d\n%s", c.args, code, msg)
		}
		s.nothingCreated(t)
		refusal[c.args[0]] = strings.ReplaceAll(strings.ReplaceAll(msg, c.next, "NEXT"), filepath.Dir(s.spec), "DIR")
		refusal[c.args[0]] = strings.TrimPrefix(refusal[c.args[0]], "graft "+c.args[0]+": ")
	})
	if refusal["clone"] != refusal["run"] {
		t.Errorf("clone and run refuse a changed source differently:\n%s\n%s", refusal["clone"], refusal["run"])
	}
}
