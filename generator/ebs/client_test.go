package ebs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/graftctl/graft/generator/ebs"
)

// TestClientRetriesNoThrottling: over the wire, the SDK client sends a
// throttled call once (graft's own loop retries it, on the engine's
// Clock), and retries a 500 up to MaxAttempts.
func TestClientRetriesNoThrottling(t *testing.T) {
	var status atomic.Int32
	var code atomic.Value
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>test</Message></Error></Errors><RequestID>req-1</RequestID></Response>`, code.Load())
	}))
	defer srv.Close()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_EC2": srv.URL, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	counter := ebs.NewCallCounter()
	c, err := ebs.NewClient(ctx, ebs.ClientOptions{Region: "us-east-1", Counter: counter, MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		what     string
		status   int32
		code     string
		attempts int32
		why      string
		// counted is what the counter counts of the call, after it and
		// the ones before: want.
		counted func() map[string]int
		want    int
	}{
		{"a throttled call", 503, "RequestLimitExceeded", 1, "graft's loop retries it", counter.Throttles, 1},
		{"a 500", 500, "InternalError", 3, "MaxAttempts", counter.Calls, 3},
	} {
		hits.Store(0)
		status.Store(tc.status)
		code.Store(tc.code)
		if _, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err == nil {
			t.Fatalf("%s: no error", tc.what)
		}
		if n := hits.Load(); n != tc.attempts {
			t.Errorf("%s went out %d times, want %d (%s)", tc.what, n, tc.attempts, tc.why)
		}
		if n := tc.counted()["DescribeVolumes"]; n != tc.want {
			t.Errorf("%s: the counter counts %d, want %d", tc.what, n, tc.want)
		}
	}
}
