package main

// stage announces the start of a pipeline stage (discover, plan, clone,
// render, check, publish) on stderr. Every command that runs stages calls
// it, so how a stage looks on a terminal and in a log is decided here.
func (e *env) stage(name string) {
	e.log.Info("== " + name)
}
