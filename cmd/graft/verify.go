package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/graftctl/graft/generator/ebs"
	"github.com/graftctl/graft/generator/kubeclient"
	"github.com/graftctl/graft/generator/spec"
	"github.com/graftctl/graft/generator/verify"
)

// verifyPollInterval is how often --wait reads the cluster again.
var verifyPollInterval = 2 * time.Second

func verifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "after sync: check on the cluster that every member runs on its cloned volume, in its zone",
		usage:   "verify [--wait DURATION] [--kubeconfig FILE] [--context NAME] [--request-timeout D] [--cluster-only] [-o text|json]",
		outputs: []string{"text", "json"},
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			kube := kubeFlags(fs)
			wait := fs.Duration("wait", 0, "read the cluster again every 2s until every member is right or this time has passed (0: once)")
			clusterOnly := fs.Bool("cluster-only", false, "do not read the volumes' initialization from EC2")
			return func(ctx context.Context, e *env, args []string) error {
				if *wait < 0 {
					return usagef("--wait %s: expected a duration of 0 or more", *wait)
				}
				m, rec, err := loadSpecAndRecord(ctx, e)
				if err != nil {
					return err
				}
				if kube.Timeout <= 0 {
					return usagef("--request-timeout: %s, expected a positive duration", kube.Timeout)
				}
				client, target, err := connect(ctx, *kube)
				if err != nil {
					return err
				}
				v := &verify.Verifier{Kube: client, Spec: m, Rec: rec}
				e.stage("verify " + rec.Migration + " on " + target.String())
				rep, err := pollVerify(ctx, e, v, *wait)
				if err != nil {
					return err
				}
				if !*clusterOnly {
					readInitialization(ctx, e, rep, m.Spec.Target.Region, m.Spec.Target.Account)
				}
				if e.output == "json" {
					err = rep.WriteJSON(e.stdout)
				} else {
					err = rep.WriteText(e.stdout, e.colorOut)
				}
				if err == nil && !rep.Passed {
					err = finding("")
				}
				return err
			}
		},
	}
}

// kubeFlags declares --kubeconfig, --context and --request-timeout, as
// kubectl has them.
func kubeFlags(fs *pflag.FlagSet) *kubeclient.Options {
	o := &kubeclient.Options{}
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the target cluster (default: KUBECONFIG, then ~/.kube/config, as kubectl)")
	fs.StringVar(&o.Context, "context", "", "kubeconfig context (default: its current context)")
	fs.DurationVar(&o.Timeout, "request-timeout", kubeclient.DefaultTimeout, "bound of each API call")
	return o
}

// pollVerify runs the verification once, or with wait until it passes or
// wait has passed: on a terminal with a bar per claim (the checks it has
// passed), elsewhere a log line at each change of how many are right.
func pollVerify(ctx context.Context, e *env, v *verify.Verifier, wait time.Duration) (*verify.Report, error) {
	deadline := time.Now().Add(wait)
	var bars ebs.Progress
	if wait > 0 && e.stderrIsTerminal {
		claims := make([]string, 0, len(v.Rec.Volumes))
		for _, vol := range v.Rec.Volumes {
			claims = append(claims, vol.ClaimName())
		}
		bars = ebs.NewBarProgress(e.stderr, claims)
		defer bars.Close()
	}
	last, done := -1, map[string]bool{}
	for {
		rep, err := v.Run(ctx)
		if err != nil {
			// Within --wait, a request the cluster could not answer for
			// a moment (an API server restarting, throttling) is made
			// again at the next poll; a refusal, or the last poll, ends it.
			if ctx.Err() != nil || !kubeclient.Transient(err) || !time.Now().Add(verifyPollInterval).Before(deadline) {
				return nil, err
			}
			e.log.Warn("the cluster did not answer; reading it again", "err", err)
			if err := sleepCtx(ctx, verifyPollInterval); err != nil {
				return nil, err
			}
			continue
		}
		right := 0
		for _, m := range rep.Members {
			if m.OK() {
				right++
			}
			if bars != nil && !done[m.Claim] {
				showMember(bars, m)
				done[m.Claim] = m.OK()
			}
		}
		if wait > 0 && bars == nil && right != last {
			e.log.Info("members cut over", "right", right, "of", len(rep.Members))
			last = right
		}
		if rep.Passed || wait == 0 || !time.Now().Add(verifyPollInterval).Before(deadline) {
			return rep, nil
		}
		if err := sleepCtx(ctx, verifyPollInterval); err != nil {
			return nil, err
		}
	}
}

// sleepCtx waits d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// showMember draws a member on its bar: the checks passed, and the first
// that has not.
func showMember(bars ebs.Progress, m verify.Member) {
	if m.OK() {
		bars.Done(m.Claim, nil)
		return
	}
	passed := 0
	for _, c := range m.Checks {
		if !c.OK {
			bars.Update(m.Claim, "waiting for "+c.Name, passed*100/len(m.Checks))
			return
		}
		passed++
	}
}

// readInitialization adds the volumes' EBS initialization to rep. EC2 only
// informs: when it cannot be reached, verify says so and checks the
// cluster alone. The volumes are in the target account (spec.target.account,
// nil within one account).
func readInitialization(ctx context.Context, e *env, rep *verify.Report, region string, acct *spec.Account) {
	api, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: region, Log: e.log, Account: acct})
	if err == nil {
		err = verify.ReadInitialization(ctx, api, rep)
	}
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		rep.EC2 = "unreachable: " + msg
		e.log.Warn("EC2 not read: the cluster was checked alone", "err", msg)
	}
}
