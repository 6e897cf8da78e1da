package templates

// CIWorkflow is the GitHub Actions workflow that gates a GitOps repository's
// pull requests with `graft check` on every changed overlay; `graft check
// --print-workflow` prints it.
const CIWorkflow = "ci-gate.yaml"
