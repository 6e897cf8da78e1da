package kubeclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/graftctl/graft/generator/kubeclient"
)

// TestTransientJudgesTheStatusCode: what client-go makes of an API server's
// (or a proxy's) answer is transient only when made again it may pass (429,
// 5xx but 501): a refusal that came without a Status body (a proxy's HTML
// 403, a plain "404 page not found", a 401 in text) is not, although
// client-go marks each such answer as an unexpected server response; a
// cancelled command is not either.
func TestTransientJudgesTheStatusCode(t *testing.T) {
	cases := []struct {
		name      string
		code      int
		ctype     string
		body      string
		transient bool
	}{
		{"proxy 403 in HTML", http.StatusForbidden, "text/html", "<html><body>Access denied</body></html>", false},
		{"401 in text", http.StatusUnauthorized, "text/plain", "Unauthorized", false},
		{"plain 404", http.StatusNotFound, "text/plain", "404 page not found", false},
		{"400 in text", http.StatusBadRequest, "text/plain", "bad request", false},
		{"403 Status", http.StatusForbidden, "application/json", `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`, false},
		{"501 in text", http.StatusNotImplemented, "text/plain", "not implemented", false},
		{"502 from a load balancer", http.StatusBadGateway, "text/html", "<html>Bad Gateway</html>", true},
		{"503 in text", http.StatusServiceUnavailable, "text/plain", "unavailable", true},
		{"504 in text", http.StatusGatewayTimeout, "text/plain", "timeout", true},
		{"429 Status", http.StatusTooManyRequests, "application/json", `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429}`, true},
		{"500 Status", http.StatusInternalServerError, "application/json", `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"InternalError","code":500}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.code)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cs := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL})
			_, err := cs.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if got := kubeclient.Transient(err); got != c.transient {
				t.Errorf("Transient(%v) = %v, expected %v", err, got, c.transient)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL}).CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
		if err == nil || kubeclient.Transient(err) {
			t.Errorf("a cancelled list: Transient(%v), expected false", err)
		}
	})
}
