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

	status.Store(503)
	code.Store("RequestLimitExceeded")
	if _, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err == nil {
		t.Fatal("no error")
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("a throttled call went out %d times, want once (graft's loop retries it)", n)
	}
	if th := counter.Throttles()["DescribeVolumes"]; th != 1 {
		t.Errorf("counter: %d throttles", th)
	}

	hits.Store(0)
	status.Store(500)
	code.Store("InternalError")
	if _, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err == nil {
		t.Fatal("no error")
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("a 500 went out %d times, want MaxAttempts = 3", n)
	}
	if n := counter.Calls()["DescribeVolumes"]; n != 3 {
		t.Errorf("counter: %d calls, want 3", n)
	}
}
