package spec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/graftctl/graft/generator/boundedio"
)

// DefaultFile is where graft looks for the spec unless --spec says otherwise.
const DefaultFile = "graft.yaml"

// ErrInvalid is wrapped by every error caused by the spec's content, so that
// callers can tell bad input from an I/O failure.
var ErrInvalid = errors.New("invalid migration spec")

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
		return nil, fmt.Errorf("%s: %w", path, err)
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
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%w: line %d: a second YAML document; a spec holds exactly one", ErrInvalid, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlMessage(err))
	}
	return &m, nil
}

// yamlMessage makes yaml.v3's messages read as graft's, naming the spec's
// types by their YAML paths.
func yamlMessage(err error) string {
	return YAMLMessage(err, "not found in type spec.", "is not a field of ")
}

// YAMLMessage makes a yaml.v3 decoding error read as graft's: it drops the
// package prefix, puts every problem on one line, and replaces each old
// string of the oldnew pairs (a Go type name) by its new one (what the
// type is in the file).
func YAMLMessage(err error, oldnew ...string) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	msg = strings.TrimPrefix(msg, "yaml: ")
	names := strings.NewReplacer(oldnew...)
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = names.Replace(strings.TrimSpace(l))
	}
	return strings.Join(lines, "; ")
}
