package templates

// PullRequestBody is the template of the pull request graft publish opens:
// the members table, the plan's summary, the check verdict and the
// cut-over checklist. Its data is publish.BodyData.
const PullRequestBody = "pull-request.md.tmpl"
