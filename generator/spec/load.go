package spec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/boundedio"
	"github.com/graftctl/graft/generator/termtext"
)

// DefaultFile is where graft looks for the spec unless --spec says otherwise.
const DefaultFile = "graft.yaml"

// ErrInvalid is wrapped by every error caused by the spec's content, so that
// callers can tell bad input from an I/O failure.
var ErrInvalid = errors.New("invalid migration spec")

// ErrNoSpec is wrapped by the error of a spec file that does not exist
// (with fs.ErrNotExist).
var ErrNoSpec = errors.New("no migration spec")

// Load reads, decodes, defaults and validates the spec at path.
func Load(path string) (*Migration, error) { return LoadContext(context.Background(), path) }

// LoadContext is Load that stops reading as soon as ctx is done (a spec
// that is a FIFO or a device must not keep graft alive after a signal).
func LoadContext(ctx context.Context, path string) (*Migration, error) {
	data, err := ReadFile(ctx, path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", termtext.Value(path), err)
	}
	return m, nil
}

// ReadFile reads the spec file, at most boundedio.MaxSpecBytes; a larger
// one is invalid input.
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	data, err := boundedio.ReadFile(ctx, path, boundedio.MaxSpecBytes)
	if errors.Is(err, boundedio.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNoSpec, err)
	}
	if errors.Is(err, boundedio.ErrNotRegular) {
		return nil, fmt.Errorf("%w: %w; the spec is one YAML file (--spec FILE, default %s)", ErrInvalid, err, DefaultFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return data, nil
}

// Parse decodes data strictly (an unknown or duplicated field is an error
// naming it and its line), applies defaults and validates the result.
func Parse(data []byte) (*Migration, error) {
	m, err := Decode(data)
	if err != nil {
		return nil, err
	}
	m.Default()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Decode only decodes; it neither defaults nor validates.
func Decode(data []byte) (*Migration, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Migration
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the document is empty; run `graft init` for an example", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalid, TypeMessage(err, data, reflect.TypeOf(m), specTypes...))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%w: line %d: a second YAML document; a spec holds exactly one", ErrInvalid, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlMessage(err))
	}
	if err := WholeNumbers(data, reflect.TypeOf(m)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &m, nil
}

// specTypes names the spec's types in yaml.v3's messages as graft does.
var specTypes = []string{"not found in type spec.", "is not a field of "}

// yamlMessage makes yaml.v3's messages read as graft's, naming the spec's
// types by their YAML paths.
func yamlMessage(err error) string { return YAMLMessage(err, specTypes...) }

// YAMLMessage makes a yaml.v3 decoding error read as graft's: it drops the
// package prefix, puts every problem on one line, and replaces each old
// string of the oldnew pairs (a Go type name) by its new one (what the
// type is in the file).
func YAMLMessage(err error, oldnew ...string) string {
	return strings.Join(yamlLines(err, oldnew...), "; ")
}

// yamlLines are the problems of a yaml.v3 error, one each, as YAMLMessage
// words them. Those of a *yaml.TypeError are taken from its list, not cut
// from its text: yaml.v3 names a field it does not know as written, and a
// key may hold a newline (or "; "), which would make two problems of one.
// Every rune a terminal would act on is escaped (termtext.Line).
func yamlLines(err error, oldnew ...string) []string {
	names := strings.NewReplacer(oldnew...)
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = strings.Split(strings.TrimPrefix(err.Error(), "yaml: "), "\n")
	}
	lines := make([]string, len(msgs))
	for i, l := range msgs {
		lines[i] = termtext.Line(names.Replace(strings.TrimSpace(l)))
	}
	return lines
}

// maxNumberNodes bounds the nodes WholeNumbers visits (aliases are followed).
const maxNumberNodes = 1 << 20

// WholeNumbers checks data, which decoded into a value of type t without
// error, for integer fields given a YAML float: yaml.v3 truncates one
// (replicas: 1.5 decodes as 1, partition: 2.9 as 2) and says nothing. It
// returns the first such field with its line and value, or nil.
func WholeNumbers(data []byte, t reflect.Type) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil // the typed decode reports it
	}
	budget := maxNumberNodes
	return wholeNumbers(&doc, t, "", &budget)
}

func wholeNumbers(n *yaml.Node, t reflect.Type, field string, budget *int) error {
	if *budget--; *budget < 0 {
		return fmt.Errorf("the document has more than %d nodes", maxNumberNodes)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode && n.Alias != nil:
		if n.Alias.Kind == yaml.ScalarNode {
			// Name the line of the alias, where the field is.
			a := *n.Alias
			a.Line = n.Line
			return wholeNumbers(&a, t, field, budget)
		}
		return wholeNumbers(n.Alias, t, field, budget)
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			if err := wholeNumbers(c, t, field, budget); err != nil {
				return err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if f, ok := yamlField(t, key); ok {
				if err := wholeNumbers(n.Content[i+1], f.Type, key, budget); err != nil {
					return err
				}
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 1; i < len(n.Content); i += 2 {
			if err := wholeNumbers(n.Content[i], t.Elem(), field, budget); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, c := range n.Content {
			if err := wholeNumbers(c, t.Elem(), field, budget); err != nil {
				return err
			}
		}
	case n.Kind == yaml.ScalarNode && isInteger(t.Kind()) && n.ShortTag() == "!!float":
		return fmt.Errorf("line %d: field %s: %s, expected a whole number", n.Line, termtext.Value(field), n.Value)
	}
	return nil
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// yamlField finds the field of struct type t that YAML key names.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	f, ok := fieldsOf(t).loose[key]
	return f, ok
}
