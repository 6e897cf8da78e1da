package render_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graftctl/graft/generator/render"
)

// TestBuildRefusesRemoteResources: kustomize fetches a URL entry of a
// kustomization (or of one it refers to) while it builds; graft's build, on
// which render and the check rest, refuses it without reaching out: what
// is checked must be what is applied.
func TestBuildRefusesRemoteResources(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dialed atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/pv.yaml"
	for _, c := range []struct{ name, field string }{{"resources", "resources"}, {"bases", "bases"}, {"nested", "resources"},
		{"patch", "file"}, {"configMap file", "file"}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			top := dir
			if c.name == "nested" {
				top = filepath.Join(dir, "overlay")
				must(t, os.MkdirAll(top, 0o755))
				must(t, os.WriteFile(filepath.Join(top, "kustomization.yaml"), []byte("resources:\n- ..\n"), 0o644))
			}
			k := c.field + ":\n- " + url + "\n"
			switch c.name {
			case "patch":
				k = "patches:\n- path: " + url + "\n"
			case "configMap file":
				k = "configMapGenerator:\n- name: x\n  files:\n  - key=" + url + "\n"
			}
			must(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644))
			_, err := render.Build(top)
			if err == nil || !strings.Contains(err.Error(), c.field+` entry "`+url+`" is not a file or directory here`) {
				t.Errorf("Build: %v, want the remote entry refused", err)
			}
		})
	}
	if n := dialed.Load(); n > 0 {
		t.Errorf("the build connected %d times to the remote resource", n)
	}
}

// TestBuildRefusesFilesThatDoNotEnd: kustomize reads a resource whole, and
// krusty takes no context: a FIFO among the resources blocked the build
// (of the base, in render) past SIGTERM.
func TestBuildRefusesFilesThatDoNotEnd(t *testing.T) {
	dir := t.TempDir()
	if err := mkfifo(filepath.Join(dir, "pv.yaml")); err != nil {
		t.Skip(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n- pv.yaml\n"), 0o644))
	done := make(chan error, 1)
	go func() {
		_, err := render.Build(dir)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `resources entry "pv.yaml" is not a regular file`) {
			t.Errorf("Build: %v, want the FIFO refused", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Build blocks on a FIFO resource")
	}
}
