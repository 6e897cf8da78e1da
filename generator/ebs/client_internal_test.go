package ebs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// TestSDKLogsGoToGraftsLogAtDebug: the SDK's own lines (such as the IMDSv1
// fallback while it looks for credentials) reach graft's logger at debug
// level, never the terminal unformatted, and are dropped without a logger.
func TestSDKLogsGoToGraftsLogAtDebug(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sdkLogger{log}.Logf(logging.Warn, "falling back to IMDSv1: %s", "403")
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, `msg="falling back to IMDSv1: 403"`) || !strings.Contains(got, "source=aws-sdk") {
		t.Errorf("logged %q", got)
	}
	sdkLogger{}.Logf(logging.Warn, "dropped") // no logger: no panic, nothing written
}
