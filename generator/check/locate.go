package check

import (
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// locate sets the line of a finding: the line of its field in the file
// that declares the object, or in the JSON 6902 patch that sets the field.
func (in *Input) locate(f *Finding) {
	if f.Line != 0 {
		return
	}
	in.ensure()
	if _, ok := in.resources[f.File]; ok {
		in.resolve(f.File)
		if file := in.declared[objectKey{f.Kind, f.Name}]; file != "" {
			f.File = file
		}
	}
	in.indexLines(f.File)
	segs := fieldSegments(f.Field)
	if op, rest, ok := in.patchFor(objectKey{f.Kind, f.Name}, segs); ok {
		f.File = op.file
		f.Line = op.line
		if op.value != nil {
			if line := descend(op.value, rest); line > 0 {
				f.Line = line
			}
		}
		return
	}
	n := in.sources[sourceKey{f.File, f.Kind, f.Name}]
	if n == nil {
		return
	}
	f.Line = n.Line
	if line := descend(n, segs); line > 0 {
		f.Line = line
	}
}

// patchFor finds the patch operation with the longest path that is a
// prefix of the field, and returns the segments below it.
func (in *Input) patchFor(obj objectKey, segs []string) (patchOp, []string, bool) {
	var best patchOp
	var rest []string
	found := false
	bestLen := -1
	for _, op := range in.patches[obj] {
		opSegs := pointerSegments(op.pointer)
		if len(opSegs) > len(segs) || len(opSegs) <= bestLen {
			continue
		}
		match := true
		for i, s := range opSegs {
			if segs[i] != s {
				match = false
				break
			}
		}
		if match {
			best, rest, found, bestLen = op, segs[len(opSegs):], true, len(opSegs)
		}
	}
	return best, rest, found
}

// descend follows segments into a node and returns the line of the
// deepest one found (a mapping key's own line), or 0.
func descend(n *yamlv3.Node, segs []string) int {
	line := 0
	for _, s := range segs {
		switch n.Kind {
		case yamlv3.MappingNode:
			var next *yamlv3.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
			if next == nil {
				return line
			}
			n = next
		case yamlv3.SequenceNode:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// fieldSegments splits a policy field path: dots, [i] for list items and
// ["key"] for map keys that are not identifiers.
func fieldSegments(field string) []string {
	var segs []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch c {
		case '.':
			flush()
		case '[':
			flush()
			end := strings.IndexByte(field[i:], ']')
			if field[i+1:i+2] == `"` {
				// a quoted key may hold "]": find the closing quote
				q := strings.Index(field[i+2:], `"]`)
				if q < 0 {
					cur.WriteString(field[i:])
					i = len(field)
					continue
				}
				segs = append(segs, field[i+2:i+2+q])
				i = i + 2 + q + 1
				continue
			}
			if end < 0 {
				cur.WriteString(field[i:])
				i = len(field)
				continue
			}
			segs = append(segs, field[i+1:i+end])
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return segs
}

// pointerSegments splits an RFC 6901 JSON pointer.
func pointerSegments(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}
