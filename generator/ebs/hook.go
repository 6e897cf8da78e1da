// The quiesce hook a member runs before its final snapshot.

package ebs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// hook runs spec.hooks.beforeFinal for the member's instance and logs its
// output.
func (r *cloneRun) hook(ctx context.Context, mb Member) error {
	e := r.e
	repl := strings.NewReplacer("{instance}", mb.Instance, "{privateIp}", mb.PrivateIP, "{statefulset}", mb.StatefulSet, "{ordinal}", strconv.Itoa(mb.Ordinal))
	argv := make([]string, len(e.m.Spec.Hooks.BeforeFinal))
	for i, a := range e.m.Spec.Hooks.BeforeFinal {
		argv[i] = repl.Replace(a)
	}
	hctx, cancel := context.WithTimeout(ctx, e.opts.HookTimeout)
	defer cancel()
	run := r.opts.RunHook
	if run == nil {
		run = func(ctx context.Context, argv []string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.Bytes(), err
		}
	}
	e.log.Info("running beforeFinal hook", "member", mb.Key(), "instance", mb.Instance, "argv", argv)
	out, err := run(hctx, argv)
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			e.log.Info("hook output", "member", mb.Key(), "line", line)
		}
	}
	if err != nil {
		return fmt.Errorf("beforeFinal hook %q for %s (%s) failed: %w; no final snapshot was taken of this member", strings.Join(argv, " "), mb.Key(), mb.Instance, err)
	}
	return nil
}
