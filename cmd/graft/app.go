package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/graftctl/graft/generator/ansi"
	"github.com/graftctl/graft/generator/lock"
	"github.com/graftctl/graft/generator/publish"
	"github.com/graftctl/graft/generator/record"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/termtext"
)

// globals are the flags every command takes.
type globals struct {
	specPath  string
	lockPath  string
	logLevel  string
	logFormat string
	output    string
	noColor   bool
}

// env is what a command runs with: real dependencies are created once, in
// run, and passed down.
type env struct {
	globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// logs is where log lines go: stderr, or the progress bars while they
	// are drawn on it.
	logs *logWriter
	// stderrIsTerminal turns on progress bars (--no-color does not turn
	// them off: it is about colour only, as in kubectl and terraform).
	stderrIsTerminal bool
	stdinIsTerminal  bool
	// colorOut and colorErr colour what is written to stdout and stderr:
	// each is on only when its own stream is a terminal (see colorFor).
	colorOut, colorErr ansi.Palette
	// jsonLogs is --log-format json: report writes the error as JSON too.
	jsonLogs bool
	// specData is the spec file as readSpec read it, once per command.
	specData []byte
	specRead bool
}

// readSpec reads the spec file (--spec) once per command; every later read
// gets the same bytes. So a spec on a pipe (--spec <(…), /dev/stdin), which
// a second read finds empty, is read once, and the spec whose migration the
// lock names is the spec the command runs, even if the file changes.
func (e *env) readSpec(ctx context.Context) ([]byte, error) {
	if !e.specRead {
		data, err := spec.ReadFile(ctx, e.specPath)
		if err != nil {
			return nil, err
		}
		e.specData, e.specRead = data, true
	}
	return e.specData, nil
}

// loadSpec is spec.LoadContext of --spec, through readSpec.
func (e *env) loadSpec(ctx context.Context) (*spec.Migration, error) {
	data, err := e.readSpec(ctx)
	if err != nil {
		return nil, err
	}
	m, err := spec.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", termtext.Value(e.specPath), err)
	}
	return m, nil
}

// command is one graft verb.
type command struct {
	name    string
	summary string
	usage   string // the line after "graft "
	// outputs lists the -o formats the command prints; the first is the
	// default. Empty means the command prints no data.
	outputs []string
	// locks makes the command take the migration's lock (see
	// generator/lock) before it runs: every command that creates, deletes
	// or writes sets it.
	locks bool
	// takesPaths lets the command take PATH arguments; every other
	// command is refused any, before it locks or reads anything.
	takesPaths bool
	// setup declares the command's own flags and returns its runner.
	setup func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

// commands returns every command, in the order help lists them.
func commands() []*command {
	return []*command{
		initCommand(),
		discoverCommand(),
		planCommand(),
		cloneCommand(),
		renderCommand(),
		checkCommand(),
		preflightCommand(),
		publishCommand(),
		verifyCommand(),
		runCommand(),
		demoCommand(),
		cleanupCommand(),
		iamPolicyCommand(),
		versionCommand(),
	}
}

// commandNames are the names graft takes as a command.
func commandNames() []string {
	names := []string{"help"}
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// didYouMean is "; did you mean X?" for the one of names closest to word
// (spec.Nearest), or "".
func didYouMean(word string, names []string) string {
	if near := spec.Nearest(word, names); near != "" {
		return fmt.Sprintf("; did you mean %q?", near)
	}
	return ""
}

// didYouMeanFlag is didYouMean for pflag's error of an unknown long flag.
func didYouMeanFlag(err error, fs *pflag.FlagSet) string {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if near := spec.Nearest(name, names); near != "" {
		return fmt.Sprintf("; did you mean --%s?", near)
	}
	return ""
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func bindGlobals(fs *pflag.FlagSet, g *globals) {
	fs.StringVar(&g.specPath, "spec", spec.DefaultFile, "path of the migration spec")
	fs.StringVar(&g.lockPath, "lock", "", "path of the record (default: "+record.DefaultFile+" beside the spec)")
	fs.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&g.logFormat, "log-format", logAuto, "status on stderr: auto (text on a terminal, else logfmt), text, logfmt or json")
	fs.StringVarP(&g.output, "output", "o", "", "output format of the command's data")
	fs.BoolVar(&g.noColor, "no-color", false, "no colour (also NO_COLOR set to anything); progress bars stay on a terminal")
}

// run parses args, runs one command and returns the process exit code. A
// command that succeeded but whose data could not all be written to stdout
// (a full disk, a closed pipe) exits 2 and says so: its output is not what
// the user asked for.
//
// Every byte written to stdout and stderr goes through a redactWriter made
// here, once: the secrets of secretEnv never reach either, whatever path
// writes them (a flag error, a log line, a progress bar, the data).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	secrets := secretValues(os.Getenv)
	out := &stdoutWriter{w: stdout}
	dataOut := newRedactWriter(out, publish.DataRedactor(secrets...))
	statusOut := newRedactWriter(stderr, statusRedactor(secrets))
	in := &flushingReader{r: stdin, flush: []*redactWriter{statusOut, dataOut}}
	code := dispatch(ctx, args, in, dataOut, statusOut)
	_ = dataOut.Flush() // an error is out.err
	if code == exitOK && out.err != nil {
		fmt.Fprintf(statusOut, "graft: cannot write the output to stdout: %v\n", out.err)
		code = exitError
	}
	_ = statusOut.Flush()
	return code
}

// stdoutWriter is stdout as the commands write to it: it keeps the first
// write error, for run.
type stdoutWriter struct {
	w   io.Writer
	err error
}

func (s *stdoutWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.err = err
	}
	return n, err
}

// dispatch parses args and runs one command; run adds the check of stdout.
func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var before, g globals
	top := pflag.NewFlagSet("graft", pflag.ContinueOnError)
	top.SetOutput(io.Discard)
	top.SetInterspersed(false)
	bindGlobals(top, &before)
	help := top.BoolP("help", "h", false, "show help")
	countValues(top)
	if err := top.Parse(args); err != nil {
		fmt.Fprintf(stderr, "graft: %v%s\nRun 'graft help' for usage.\n", errText(err), didYouMeanFlag(err, top))
		return exitError
	}
	rest := top.Args()
	if *help || len(rest) == 0 {
		printHelp(stdout)
		if len(rest) == 0 && !*help {
			return exitError
		}
		return exitOK
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return runHelp(stdout, stderr, rest)
	}
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "graft: unknown command %q%s\nRun 'graft help' for the list of commands.\n", name, didYouMean(name, commandNames()))
		return exitError
	}
	fs, cmdHelp, runner := commandFlags(cmd, &g)
	countValues(fs)
	// Re-apply what was set before the command name, so that both
	// `graft --spec x render` and `graft render --spec x` work.
	top.Visit(func(f *pflag.Flag) {
		for _, v := range f.Value.(*countedValue).values {
			_ = fs.Set(f.Name, v)
		}
	})
	if err := fs.Parse(rest); err != nil {
		fmt.Fprintf(stderr, "graft %s: %v%s\nRun 'graft help %s' for usage.\n", name, errText(err), didYouMeanFlag(err, fs), name)
		return exitError
	}
	if *cmdHelp {
		return runHelp(stdout, stderr, []string{name}) // fs's values are wrapped
	}
	if err := checkValues(fs); err != nil {
		fmt.Fprintf(stderr, "graft %s: %v\nRun 'graft help %s' for usage.\n", name, err, name)
		return exitError
	}
	level, err := parseLevel(g.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "graft %s: %v\n", name, err)
		return exitError
	}
	if err := checkOutput(cmd, &g); err != nil {
		fmt.Fprintf(stderr, "graft %s: %v\n", name, err)
		return exitError
	}
	e, err := newEnv(g, level, stdin, stdout, stderr, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "graft %s: %v\nRun 'graft help %s' for usage.\n", name, err, name)
		return exitError
	}
	if !cmd.takesPaths && len(fs.Args()) > 0 {
		return report(ctx, e, name, usagef("%s takes no arguments, got %q", name, fs.Args()))
	}
	if cmd.locks && !dryRun(fs) {
		l, err := lockMigration(ctx, e, cmd.name)
		if err != nil {
			return report(ctx, e, name, err)
		}
		defer l.Release()
	}
	return report(ctx, e, name, runner(ctx, e, fs.Args()))
}

// dryRun tells whether the command was asked to write nothing
// (--dry-run): then it only reads, as plan does, and takes no lock, so it
// runs beside a command that holds the migration, and where graft may not
// create the lock file. What it reads, graft writes atomically.
func dryRun(fs *pflag.FlagSet) bool {
	f := fs.Lookup("dry-run")
	return f != nil && f.Value.String() == "true"
}

// report says why a command failed, on stderr, and returns its exit code:
// the one place where an error becomes an exit code and a message. The
// code, and the hint line that follows the message, come from errorTable.
//
// With --log-format json, where every line of stderr is a JSON object, the
// error is one more: level ERROR, its message and hint as msg, the command
// and the exit code.
func report(ctx context.Context, e *env, name string, err error) int {
	if err == nil {
		return exitOK
	}
	if !e.jsonLogs {
		return reportText(ctx, e, name, err)
	}
	var text bytes.Buffer
	plain := *e
	plain.stderr, plain.colorErr = &text, ansi.Palette{}
	code := reportText(ctx, &plain, name, err)
	if msg := strings.TrimSpace(text.String()); msg != "" {
		e.log.Error(strings.TrimPrefix(msg, "graft "+name+": "), "command", name, "exit", code)
	}
	return code
}

// reportText is report as lines of text on e.stderr.
func reportText(ctx context.Context, e *env, name string, err error) int {
	var (
		f findingError
		u usageError
	)
	// A stage's own prefix ("render: replace …") would say the command's
	// name twice: graft render: render: replace ….
	msg := messageOf(err, name, e.colorErr)
	switch {
	case errors.As(err, &f):
		// The command printed its report; say why it exits 1 as well
		// (graft run names the stage and what to do).
		if msg != "" {
			fmt.Fprintf(e.stderr, "%s %s\n", e.failedAs(name), msg)
		}
		e.hint(name, err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil && !strings.Contains(err.Error(), "interrupted"):
		// "context canceled" says nothing to a person: say what happened.
		e.log.Debug("interrupted", "error", err)
		fmt.Fprintf(e.stderr, "%s interrupted (SIGINT or SIGTERM); nothing more was written\n", e.failedAs(name))
		return exitError
	case errors.As(err, &u):
		fmt.Fprintf(e.stderr, "%s %s\nRun 'graft help %s' for usage.\n", e.failedAs(name), msg, name)
	default:
		fmt.Fprintf(e.stderr, "%s %s\n", e.failedAs(name), msg)
		e.hint(name, err)
	}
	return codeOf(err)
}

// failedAs is how an error's line starts, "graft <command>:" (red on a
// terminal, as the status markers are).
func (e *env) failedAs(name string) string {
	return e.colorErr.Red("graft " + name + ":")
}

// hint prints errorTable's hint for err, unless err is a stage's, which
// carries its next step already.
func (e *env) hint(name string, err error) {
	var se *stageError
	if h := hintFor(err, nextStep(name, "")); h != "" && !errors.As(err, &se) {
		fmt.Fprintln(e.stderr, h)
	}
}

// commandFlags declares the global flags, --help and the command's own
// flags on a new flag set.
func commandFlags(cmd *command, g *globals) (*pflag.FlagSet, *bool, func(context.Context, *env, []string) error) {
	fs := pflag.NewFlagSet("graft "+cmd.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindGlobals(fs, g)
	help := fs.BoolP("help", "h", false, "show help for the command")
	return fs, help, cmd.setup(fs)
}

// countedValue is a flag's value that keeps every value the flag was
// given, for checkValues.
type countedValue struct {
	pflag.Value
	values []string
}

func (c *countedValue) Set(s string) error {
	c.values = append(c.values, s)
	return c.Value.Set(s)
}

// countValues makes every flag of fs keep the values it is given.
func countValues(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) { f.Value = &countedValue{Value: f.Value} })
}

// checkValues refuses a flag given twice with different values (pflag
// keeps the last one without a word: --phase precopy … --phase final, or
// graft --spec a.yaml render --spec b.yaml), and a string flag given an
// empty value (--out "", or --spec= from an unset shell variable): each
// has a default or a meaning when it is left out, and "" would silently
// stand for that default, or for no file at all.
func checkValues(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		if c, ok := f.Value.(*countedValue); ok {
			if distinct := slices.Compact(slices.Sorted(slices.Values(c.values))); len(distinct) > 1 {
				err = fmt.Errorf("--%s: given %d times, with %s; expected it once", f.Name, len(c.values), quoteAll(c.values))
				return
			}
		}
		if f.Value.Type() == "string" && f.Value.String() == "" {
			err = fmt.Errorf("--%s: an empty value, expected %s (or no --%s at all, for its default)", f.Name, f.Usage, f.Name)
		}
	})
	return err
}

// quoteAll is values quoted and joined: "a", "b" and "c".
func quoteAll(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level: %q is not a level, expected debug, info, warn or error", s)
}

// checkOutput rejects an output format the command does not print, and
// fills in the command's default.
func checkOutput(cmd *command, g *globals) error {
	if len(cmd.outputs) == 0 {
		if g.output != "" {
			return fmt.Errorf("-o/--output: %q is not accepted, this command prints no data", g.output)
		}
		return nil
	}
	if g.output == "" {
		g.output = cmd.outputs[0]
		return nil
	}
	for _, o := range cmd.outputs {
		if o == g.output {
			return nil
		}
	}
	return fmt.Errorf("-o/--output: %q is not a format of this command, expected one of %s", g.output, strings.Join(cmd.outputs, ", "))
}

func isTerminal(v any) bool {
	f, ok := underlying(v).(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runHelp(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		printHelp(stdout)
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "graft help: unknown command %q%s\nRun 'graft help' for the list of commands.\n", args[0], didYouMean(args[0], commandNames()))
		return exitError
	}
	var g globals
	fs, _, _ := commandFlags(cmd, &g)
	printCommandHelp(stdout, cmd, fs)
	return exitOK
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `graft moves the EBS volumes of a stateful application from EC2 instances into
Kubernetes StatefulSets, and delivers the Kubernetes side as a kustomize overlay
in a GitOps pull request, gated by policies.

Usage:
  graft [global flags] <command> [flags] [args]

Commands:
`)
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", width, "help", "show help for graft or one command")
	fmt.Fprint(w, `
Global flags:
      --spec FILE        migration spec (default graft.yaml)
      --lock FILE        record of cloned volumes (default graft.lock beside the spec)
      --log-level LEVEL  debug, info, warn or error (default info)
      --log-format FMT   how status is written to stderr: auto (default: text on a
                         terminal, logfmt otherwise), text (one short line per event:
                         ▸ stage, ✓ done, ! warning, ✗ error), logfmt or json
  -o, --output FORMAT    format of the data a command prints (always on stdout)
      --no-color         no colour; also when NO_COLOR is set to anything, and on a
                         stream that is not a terminal. Progress bars are drawn
                         whenever stderr is a terminal, with or without colour.

Exit codes: 0 ok, 1 a finding (for example a denied overlay), 2 usage, input or runtime error.
Run 'graft help <command>' for a command's flags.
`)
}

func printCommandHelp(w io.Writer, cmd *command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  graft %s\n", cmd.summary, cmd.usage)
	if len(cmd.outputs) > 0 {
		fmt.Fprintf(w, "\nOutput formats (-o): %s (default %s)\n", strings.Join(cmd.outputs, ", "), cmd.outputs[0])
	}
	fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
}

// lockMigration takes the lock beside the migration's record, so that no
// other graft command changes the migration while this one runs. A missing
// spec is reported as the command itself would report it, without leaving
// a lock file behind.
func lockMigration(ctx context.Context, e *env, command string) (*lock.Lock, error) {
	data, err := e.readSpec(ctx)
	if err != nil {
		return nil, err
	}
	me := lock.Holder{Command: command}
	if m, err := spec.Decode(data); err == nil {
		me.Migration = m.Metadata.Name
	}
	return acquireLock(e, lock.Path(record.Path(e.specPath, e.lockPath)), me)
}

func acquireLock(e *env, path string, me lock.Holder) (*lock.Lock, error) {
	l, err := lock.Acquire(path, me)
	if err != nil {
		return nil, err
	}
	if l.Stale != nil {
		e.log.Warn("the previous command on this migration ended without releasing its lock (killed or crashed); check what it left before going on (graft plan, graft cleanup)",
			"previous", l.Stale.String(), "lock", path)
	}
	return l, nil
}

// logWriter is the log's output. While progress bars are drawn on the
// terminal, a line written straight to it would land in the middle of them;
// through routes the lines through the bars' container, which prints them
// above the bars.
type logWriter struct {
	mu sync.Mutex
	to io.Writer
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	to := l.to
	l.mu.Unlock()
	return to.Write(p)
}

// through sends the log to w until restore is called.
func (l *logWriter) through(w io.Writer) (restore func()) {
	l.mu.Lock()
	prev := l.to
	l.to = w
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.to = prev
		l.mu.Unlock()
	}
}
