package ebs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/graftctl/graft/generator/spec"
)

// ErrCredentials is wrapped when no AWS credentials can be found.
var ErrCredentials = errors.New("no AWS credentials")

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Region the client talks to (the spec's source or target region).
	Region string
	// MaxAttempts per call for transport errors and 5xx answers (default
	// 5). Throttling is never retried by the SDK: see newRetryer.
	MaxAttempts int
	// MaxBackoff between two attempts (default 20s).
	MaxBackoff time.Duration
	// Counter, if set, counts every wire attempt per operation.
	Counter *CallCounter
	// Log receives the SDK's own log lines at debug level (such as "falling
	// back to IMDSv1" while it looks for credentials), so that they do not
	// reach the terminal as unformatted lines; nil drops them.
	Log *slog.Logger
	// Account, if set, is the other AWS account the client works in
	// (spec.target.account): its credentials come from Account.Profile (a
	// named profile), or from assuming Account.RoleARN with the standard
	// chain's credentials; and they must be that account's (STS
	// GetCallerIdentity checks). graft never logs or writes credentials.
	Account *spec.Account
}

// sdkLogger passes the SDK's log lines to graft's logger at debug level.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if l.log != nil {
		l.log.Debug(fmt.Sprintf(format, v...), "source", "aws-sdk", "level", string(c))
	}
}

// NewClient builds an EC2 client with the SDK's standard credential and
// region chain (environment, shared config and SSO profiles, IMDS), the
// region from the spec, and a retryer for transport errors and 5xx
// answers. Emulators such as moto need no code here: the SDK reads
// AWS_ENDPOINT_URL_EC2 (or AWS_ENDPOINT_URL) itself.
//
// It retrieves the credentials once, so that missing credentials fail here
// with one clear message instead of on the first call.
func NewClient(ctx context.Context, opts ClientOptions) (*ec2.Client, error) {
	cfg, err := LoadConfig(ctx, opts)
	if err != nil {
		return nil, err
	}
	return ec2.NewFromConfig(cfg), nil
}

// NewKMSClient builds the KMS client of the same credentials and region
// (the cross-account key checks); AWS_ENDPOINT_URL_KMS points it at an
// emulator.
func NewKMSClient(ctx context.Context, opts ClientOptions) (*kms.Client, error) {
	opts.Counter = nil // it counts EC2's calls
	cfg, err := LoadConfig(ctx, opts)
	if err != nil {
		return nil, err
	}
	return kms.NewFromConfig(cfg), nil
}

// LoadConfig is the SDK configuration NewClient builds its client from:
// the standard chain, or the target account's profile or role
// (ClientOptions.Account), with the credentials retrieved once.
func LoadConfig(ctx context.Context, opts ClientOptions) (aws.Config, error) {
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(opts.Region),
		config.WithRetryer(func() aws.Retryer { return newRetryer(opts) }),
		config.WithLogger(sdkLogger{opts.Log}),
	}
	if opts.Counter != nil {
		loadOpts = append(loadOpts, config.WithAPIOptions([]func(*middleware.Stack) error{opts.Counter.AddTo}))
	}
	a := opts.Account
	if a != nil && a.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(a.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if missing := (config.SharedConfigProfileNotExistError{}); errors.As(err, &missing) {
		from := "AWS_PROFILE"
		if a != nil && a.Profile != "" {
			from = "spec.target.account.profile"
		}
		files := missing.Filename
		if len(files) == 0 {
			files = []string{cmp.Or(os.Getenv("AWS_CONFIG_FILE"), config.DefaultSharedConfigFilename()),
				cmp.Or(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), config.DefaultSharedCredentialsFilename())}
		}
		return aws.Config{}, fmt.Errorf("%w: %s %q is a profile in none of the shared config files (%s)", ErrCredentials, from, missing.Profile, strings.Join(files, ", "))
	}
	if err != nil {
		if a != nil && a.Profile != "" {
			return aws.Config{}, fmt.Errorf("load AWS configuration of spec.target.account.profile %q: %w", a.Profile, err)
		}
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Credentials == nil {
		return aws.Config{}, fmt.Errorf("%w: the SDK's chain (environment, shared config and SSO, instance or pod role) found none", ErrCredentials)
	}
	if a != nil && a.RoleARN != "" {
		// The standard chain's credentials assume the target account's role.
		prov := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = a.SessionNameOrDefault()
			if a.ExternalID != "" {
				o.ExternalID = aws.String(a.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(prov)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		if a != nil {
			return aws.Config{}, fmt.Errorf("%w for the target account %s (%s): %s", ErrCredentials, a.ID, accountCredentialSource(a), firstLine(err.Error()))
		}
		return aws.Config{}, fmt.Errorf("%w: %s", ErrCredentials, firstLine(err.Error()))
	}
	if a != nil {
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return aws.Config{}, fmt.Errorf("%w for the target account %s (%s): GetCallerIdentity: %s", ErrCredentials, a.ID, accountCredentialSource(a), firstLine(err.Error()))
		}
		if got := aws.ToString(id.Account); got != a.ID {
			return aws.Config{}, fmt.Errorf("%w: the credentials of %s are of account %s, not spec.target.account.id %s", ErrInput, accountCredentialSource(a), got, a.ID)
		}
	}
	return cfg, nil
}

// CallerAccount is the account of the credentials LoadConfig finds for
// opts (STS GetCallerIdentity, which needs no permission).
func CallerAccount(ctx context.Context, opts ClientOptions) (string, error) {
	cfg, err := LoadConfig(ctx, opts)
	if err != nil {
		return "", err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("GetCallerIdentity: %w", err)
	}
	return aws.ToString(id.Account), nil
}

// accountCredentialSource names where the target account's credentials
// come from, for messages (never the credentials).
func accountCredentialSource(a *spec.Account) string {
	if a.Profile != "" {
		return "profile " + a.Profile
	}
	return "role " + a.RoleARN
}

// newRetryer is the SDK's standard retryer minus throttling. graft
// retries throttling in exactly one layer, its own loop in api.do: that
// loop sleeps on the engine's Clock (so the simulator's virtual clock drives
// it, and the simulator's errors never pass through the SDK anyway) and
// counts what it absorbed. Letting the SDK retry throttling too would
// multiply the attempts (SDK attempts x graft's retries per call) and
// sleep in real time behind the Clock's back. So throttling error codes
// are declared not retryable, ahead of the SDK's checks (EC2 answers
// RequestLimitExceeded with HTTP 503, which the status-code check would
// otherwise retry); transport errors and other 5xx answers keep the SDK's
// retries. The SDK's client-side retry quota is off: EC2 throttles per
// account, and graft's token buckets pace the calls.
func newRetryer(opts ClientOptions) aws.Retryer {
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, 5)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 20*time.Second)
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.MaxBackoff = opts.MaxBackoff
		o.RateLimiter = ratelimit.None
		noThrottle := retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if isThrottle(err) {
				return aws.FalseTernary
			}
			return aws.UnknownTernary
		})
		o.Retryables = append([]retry.IsErrorRetryable{noThrottle}, o.Retryables...)
	})
}

// EndpointOverride reports the EC2 endpoint the SDK will use instead of
// AWS's, if the environment sets one (for logs only).
func EndpointOverride() string {
	if v := os.Getenv("AWS_ENDPOINT_URL_EC2"); v != "" {
		return v
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// CallCounter counts EC2 calls per operation: the attempts EC2 answered
// other than with a throttling error, and the throttling errors. As SDK
// middleware (AddTo) it counts wire attempts, retries of transport errors
// included; the engine's Stats holds another one fed by graft's own retry
// loop.
type CallCounter struct {
	mu        sync.Mutex
	calls     map[string]int
	throttles map[string]int
}

// NewCallCounter returns an empty counter.
func NewCallCounter() *CallCounter {
	return &CallCounter{calls: map[string]int{}, throttles: map[string]int{}}
}

func (c *CallCounter) add(op string, throttled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if throttled {
		c.throttles[op]++
	} else {
		c.calls[op]++
	}
}

// AddTo adds the counting middleware to an SDK stack; it sits in the
// Finalize step after the retry middleware, so it sees every attempt.
func (c *CallCounter) AddTo(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("graftCallCounter",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			c.add(awsmiddleware.GetOperationName(ctx), isThrottle(err))
			return out, md, err
		}), middleware.After)
}

// Calls returns a copy of the per-operation counts of attempts that were
// not throttled.
func (c *CallCounter) Calls() map[string]int { return c.copy(c.calls) }

// Throttles returns a copy of the per-operation throttling counts.
func (c *CallCounter) Throttles() map[string]int { return c.copy(c.throttles) }

func (c *CallCounter) copy(m map[string]int) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(m)
}

// FormatCounts renders a count map as "Op=n Op=n", sorted.
func FormatCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// errorCode returns the API error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isThrottle(err error) bool {
	if err == nil {
		return false
	}
	_, ok := retry.DefaultThrottleErrorCodes[errorCode(err)]
	return ok
}
