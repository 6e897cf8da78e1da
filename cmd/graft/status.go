package main

import "context"

// stage announces the start of a pipeline stage (discover, plan, clone,
// render, check, publish) on stderr. Every command that runs stages calls
// it, so how a stage looks on a terminal and in a log is decided here: a
// line at levelStage, which the text format draws as "▸ <stage>" and
// logfmt and JSON write as an INFO line "== <stage>".
func (e *env) stage(name string) {
	e.log.Log(context.Background(), levelStage, name)
}
