package ebs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/graftctl/graft/generator/termtext"
)

// Progress reports what each member is doing. Implementations must be safe
// for concurrent use.
type Progress interface {
	// Update says member is at stage, percent (0-100) done with it.
	Update(member, stage string, percent int)
	// Done says member finished (err nil) or stopped.
	Done(member string, err error)
	// Close flushes the display.
	Close()
}

// LevelProgress is the level of the lines logProgress writes: a step under
// way, not a result. It sits between info and warn's stage level in cmd,
// so --log-level=info shows it; cmd's text format draws it with its own
// marker, and its logfmt and JSON write it as INFO.
const LevelProgress = slog.LevelInfo + 1

// logProgress writes plain log lines: one per stage change and one per
// quarter of a stage, for logs that are not a terminal.
type logProgress struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]string
}

// NewLogProgress reports progress as log lines.
func NewLogProgress(log *slog.Logger) Progress {
	return &logProgress{log: log, last: map[string]string{}}
}

func (p *logProgress) Update(member, stage string, percent int) {
	key := fmt.Sprintf("%s %d", stage, percent/25)
	p.mu.Lock()
	changed := p.last[member] != key
	p.last[member] = key
	p.mu.Unlock()
	if changed {
		p.log.Log(context.Background(), LevelProgress, "progress", "member", member, "stage", stage, "percent", percent)
	}
}

func (p *logProgress) Done(member string, err error) {
	if err != nil {
		p.log.Error("member stopped", "member", member, "error", err)
		return
	}
	p.log.Info("member done", "member", member)
}

func (p *logProgress) Close() {}

// barProgress draws one bar per member on a terminal with mpb. It is also
// the io.Writer that logs must go through while the bars are drawn.
type barProgress struct {
	w    io.Writer
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*bar
}

type bar struct {
	b     *mpb.Bar
	stage string
	mu    sync.Mutex
}

// NewBarProgress draws live bars on w (a terminal), one per member, in
// the order given. The Progress it returns is an io.Writer: what is written
// to it is printed above the bars, so that log lines written while they are
// drawn do not garble them.
//
// The bars refresh even when w is not a terminal (mpb's auto refresh), so
// that the lines written through them are never held back or dropped.
//
// A w that wraps a file (graft's redacting stderr) and tells its
// descriptor (Fd) is drawn as that file is: on a terminal, with the
// cursor moves and the terminal's size (cupwriter's SetTermFd).
func NewBarProgress(w io.Writer, members []string) Progress {
	out := mpb.WithOutput(w)
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		cw := cupwriter.New(w, false)
		cw.SetTermFd(int(f.Fd()))
		out = mpb.WithConsoleWriter(cw)
	}
	return newBarProgress(w, members, out, mpb.WithAutoRefresh())
}

// newBarProgress is NewBarProgress with the container's options, so that a
// test can draw on a fake terminal (mpb.WithConsoleWriter) and refresh by
// hand (mpb.WithManualRefresh).
func newBarProgress(w io.Writer, members []string, opts ...mpb.ContainerOption) *barProgress {
	bp := &barProgress{w: w, p: mpb.New(append([]mpb.ContainerOption{mpb.WithWidth(40)}, opts...)...), bars: map[string]*bar{}}
	width := 0
	for _, m := range members {
		width = max(width, len(termtext.Value(m)))
	}
	for _, m := range members {
		b := &bar{stage: "waiting"}
		b.b = bp.p.AddBar(100,
			mpb.PrependDecorators(
				// A label is a value: quoted if a terminal would act on it.
				decor.Name(termtext.Value(m), decor.WC{W: width + 1, C: decor.DindentRight}),
				decor.Any(func(decor.Statistics) string {
					b.mu.Lock()
					defer b.mu.Unlock()
					return termtext.Line(b.stage)
				}, decor.WC{W: 26, C: decor.DindentRight}),
			),
			mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5})),
		)
		bp.bars[m] = b
	}
	return bp
}

// Write prints b above the bars at their next refresh; once the bars are
// closed it writes to the terminal directly.
func (p *barProgress) Write(b []byte) (int, error) {
	n, err := p.p.Write(b)
	if errors.As(err, new(mpb.ErrDone[*mpb.Progress])) {
		return p.w.Write(b)
	}
	return n, err
}

func (p *barProgress) get(member string) *bar {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bars[member]
}

func (p *barProgress) Update(member, stage string, percent int) {
	b := p.get(member)
	if b == nil {
		return
	}
	b.mu.Lock()
	b.stage = stage
	b.mu.Unlock()
	b.b.SetCurrent(int64(min(max(percent, 0), 99)))
}

func (p *barProgress) Done(member string, err error) {
	b := p.get(member)
	if b == nil {
		return
	}
	b.mu.Lock()
	if err != nil {
		b.stage = "stopped (see below)"
	} else {
		b.stage = "done"
	}
	b.mu.Unlock()
	if err != nil {
		b.b.Abort(false)
		return
	}
	b.b.SetCurrent(100)
}

func (p *barProgress) Close() {
	p.mu.Lock()
	for _, b := range p.bars {
		if !b.b.Completed() && !b.b.Aborted() {
			b.b.Abort(false)
		}
	}
	p.mu.Unlock()
	p.p.Wait()
}
