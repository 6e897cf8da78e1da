package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/termtext"
)

// Writer prints a report in one format.
type Writer interface {
	Write(r *Report) error
}

// Formats lists the output formats; the first is the default.
var Formats = []string{"text", "json", "junit", "github", "sarif"}

// NewWriter returns the writer of a format, or an error for an unknown one.
func NewWriter(format string, w io.Writer) (Writer, error) {
	switch format {
	case "text":
		return NewText(w), nil
	case "json":
		return NewJSON(w), nil
	case "junit":
		return NewJUnit(w), nil
	case "github":
		return NewGitHub(w), nil
	case "sarif":
		return NewSARIF(w), nil
	}
	return nil, fmt.Errorf("unknown output format %q, expected one of %s", format, strings.Join(Formats, ", "))
}

func location(f Finding) string {
	switch {
	case f.File == "":
		return ""
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

func object(f Finding) string {
	name := f.Name
	if f.Namespace != "" {
		name = f.Namespace + "/" + name
	}
	if name == "" {
		return f.Kind // the record and a kustomization have no name
	}
	return f.Kind + " " + name
}

// describe is the message without the rule id and object, which every
// format shows in its own way.
func describe(f Finding) string {
	prefix := fmt.Sprintf("[%s] ", f.ID)
	msg := strings.TrimPrefix(f.Message, prefix)
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, f.Kind+" ") {
		msg = msg[i+2:]
	}
	return msg
}

// ---------------------------------------------------------------- text

type textWriter struct {
	w   io.Writer
	pal ansi.Palette
}

// NewText writes two lines per finding and a summary, for people. A
// finding names what the overlay's author wrote (names, labels, file
// names, values): every rune a terminal would act on is escaped in place
// (termtext.Line), so that none adds a line or drives the terminal.
func NewText(w io.Writer) Writer { return textWriter{w: w} }

// NewTextColor is NewText with the levels and the verdict coloured by pal
// (on a terminal): deny and FAIL red, warn yellow, PASS green.
func NewTextColor(w io.Writer, pal ansi.Palette) Writer { return textWriter{w: w, pal: pal} }

func (t textWriter) Write(r *Report) error {
	var b strings.Builder
	for _, f := range r.Findings {
		level := strings.ToUpper(f.Level)
		if f.Level == LevelDeny {
			level = t.pal.Red(level)
		} else {
			level = t.pal.Yellow(level)
		}
		fmt.Fprintf(&b, "%s %s %s", level, termtext.Line(f.ID), termtext.Line(object(f)))
		if loc := location(f); loc != "" {
			fmt.Fprintf(&b, " (%s)", termtext.Line(loc))
		}
		fmt.Fprintf(&b, "\n    %s\n", termtext.Line(describe(f)))
	}
	verdict := verdictWord(r)
	switch {
	case r.Failed():
		verdict = t.pal.Red(verdict)
	case r.Count(LevelWarn) > 0:
		verdict = t.pal.Yellow(verdict)
	default:
		verdict = t.pal.Green(verdict)
	}
	fmt.Fprintf(&b, "%s: %d denied, %d warned, %d objects checked from %d files\n",
		verdict, r.Count(LevelDeny), r.Count(LevelWarn), r.Objects, len(r.Files))
	_, err := io.WriteString(t.w, b.String())
	return err
}

func verdictWord(r *Report) string {
	switch {
	case r.Failed():
		return "FAIL"
	case r.Count(LevelWarn) > 0:
		return "PASS with warnings"
	}
	return "PASS"
}

// ---------------------------------------------------------------- json

type jsonWriter struct{ w io.Writer }

// NewJSON writes the report as one JSON object.
func NewJSON(w io.Writer) Writer { return jsonWriter{w} }

func (j jsonWriter) Write(r *Report) error {
	out := struct {
		Verdict  string    `json:"verdict"`
		Failed   bool      `json:"failed"`
		Denied   int       `json:"denied"`
		Warned   int       `json:"warned"`
		Objects  int       `json:"objects"`
		Files    []string  `json:"files"`
		Findings []Finding `json:"findings"`
	}{r.Verdict(), r.Failed(), r.Count(LevelDeny), r.Count(LevelWarn), r.Objects, r.Files, r.Findings}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	enc := json.NewEncoder(j.w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ---------------------------------------------------------------- junit

type junitWriter struct{ w io.Writer }

// NewJUnit writes a JUnit XML report: one test case per rule, failing with
// its deny findings (and its warnings under FailOnWarn).
func NewJUnit(w io.Writer) Writer { return junitWriter{w} }

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func (j junitWriter) Write(r *Report) error {
	byRule := map[string][]Finding{}
	for _, f := range r.Findings {
		byRule[f.ID] = append(byRule[f.ID], f)
	}
	suite := junitSuite{Name: "graft check"}
	for _, ru := range r.Rules {
		c := junitCase{Name: ru.ID + " " + ru.Title, ClassName: "graft.policies"}
		var fails, notes []string
		for _, f := range byRule[ru.ID] {
			line := fmt.Sprintf("%s %s", strings.ToUpper(f.Level), object(f))
			if loc := location(f); loc != "" {
				line += " (" + loc + ")"
			}
			line += ": " + describe(f)
			if f.Level == LevelDeny || r.FailOnWarn {
				fails = append(fails, line)
			} else {
				notes = append(notes, line)
			}
		}
		if len(fails) > 0 {
			c.Failure = &junitFailure{
				Message: fmt.Sprintf("%d finding(s)", len(fails)),
				Type:    ru.Level,
				Text:    strings.Join(fails, "\n"),
			}
			suite.Failures++
		}
		if len(notes) > 0 {
			c.SystemOut = strings.Join(notes, "\n")
		}
		suite.Cases = append(suite.Cases, c)
	}
	// Findings of rules missing from the catalogue still show.
	var unknown []string
	for id := range byRule {
		if _, ok := r.Rule(id); !ok {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	for _, id := range unknown {
		var lines []string
		for _, f := range byRule[id] {
			lines = append(lines, describe(f))
		}
		suite.Cases = append(suite.Cases, junitCase{Name: id, ClassName: "graft.policies",
			Failure: &junitFailure{Message: fmt.Sprintf("%d finding(s)", len(lines)), Type: LevelDeny, Text: strings.Join(lines, "\n")}})
		suite.Failures++
	}
	suite.Tests = len(suite.Cases)
	out := junitSuites{Name: "graft", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(j.w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(j.w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(j.w, "\n")
	return err
}

// ---------------------------------------------------------------- github

type githubWriter struct{ w io.Writer }

// NewGitHub writes GitHub Actions workflow commands (::error and
// ::warning annotations with file and line) and a summary line.
func NewGitHub(w io.Writer) Writer { return githubWriter{w} }

// escapeData and escapeProperty follow the workflow command encoding;
// what else a terminal would act on (ESC, which the Actions log renders,
// C1 controls, bidi overrides) is then escaped as the text report does.
func escapeData(s string) string {
	return termtext.Line(strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s))
}

func escapeProperty(s string) string {
	return termtext.Line(strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s))
}

func (g githubWriter) Write(r *Report) error {
	var b strings.Builder
	for _, f := range r.Findings {
		cmd := "error"
		if f.Level == LevelWarn && !r.FailOnWarn {
			cmd = "warning"
		}
		var props []string
		if f.File != "" && f.File != Stdin {
			props = append(props, "file="+escapeProperty(filepath.ToSlash(f.File)))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
		}
		props = append(props, "title="+escapeProperty(f.ID+" "+object(f)))
		fmt.Fprintf(&b, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(describe(f)))
	}
	fmt.Fprintf(&b, "graft check: %s: %d denied, %d warned, %d objects checked\n", verdictWord(r), r.Count(LevelDeny), r.Count(LevelWarn), r.Objects)
	_, err := io.WriteString(g.w, b.String())
	return err
}

// ---------------------------------------------------------------- sarif

type sarifWriter struct{ w io.Writer }

// NewSARIF writes a SARIF 2.1.0 log with one run of graft.
func NewSARIF(w io.Writer) Writer { return sarifWriter{w} }

// SARIFSchema is the schema URI the log names.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *struct {
			StartLine int `json:"startLine"`
		} `json:"region,omitempty"`
	} `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

func sarifLevel(level string, failOnWarn bool) string {
	if level == LevelDeny || failOnWarn {
		return "error"
	}
	return "warning"
}

func (s sarifWriter) Write(r *Report) error {
	var rules []sarifRule
	index := map[string]int{}
	for _, ru := range r.Rules {
		sr := sarifRule{ID: ru.ID, Name: ru.ID, ShortDescription: sarifMessage{ru.Title}}
		sr.DefaultConfiguration.Level = sarifLevel(ru.Level, false)
		index[ru.ID] = len(rules)
		rules = append(rules, sr)
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		i, ok := index[f.ID]
		if !ok {
			sr := sarifRule{ID: f.ID, Name: f.ID, ShortDescription: sarifMessage{f.ID}}
			sr.DefaultConfiguration.Level = sarifLevel(f.Level, false)
			i = len(rules)
			index[f.ID] = i
			rules = append(rules, sr)
		}
		res := sarifResult{
			RuleID: f.ID, RuleIndex: i, Level: sarifLevel(f.Level, r.FailOnWarn),
			Message: sarifMessage{fmt.Sprintf("%s: %s", object(f), describe(f))},
			Properties: map[string]any{
				"field": f.Field, "found": f.Found, "expected": f.Expected,
			},
		}
		if f.File != "" && f.File != Stdin {
			var loc sarifLocation
			loc.PhysicalLocation.ArtifactLocation.URI = filepath.ToSlash(f.File)
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &struct {
					StartLine int `json:"startLine"`
				}{f.Line}
			}
			loc.LogicalLocations = []sarifLogical{{Name: f.Name, FullyQualifiedName: object(f), Kind: "object"}}
			res.Locations = []sarifLocation{loc}
		}
		results = append(results, res)
	}
	log := map[string]any{
		"$schema": SARIFSchema,
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name":           "graft",
				"informationUri": "https://github.com/graftctl/graft",
				"rules":          rules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(s.w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
