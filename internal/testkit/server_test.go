package testkit

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperServer is not a test: it is the process helperServer starts,
// doing what $TESTKIT_SERVER says.
func TestHelperServer(t *testing.T) {
	mode, port, ok := strings.Cut(os.Getenv("TESTKIT_SERVER"), ":")
	if !ok {
		t.Skip("the helper process of the Server tests")
	}
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "boom: no config")
		os.Exit(3)
	case "mute": // never listens
	case "stubborn": // ignores SIGTERM, never listens
		signal.Ignore(syscall.SIGTERM)
	case "parent": // starts a child in its group and says its pid
		child := exec.Command(os.Args[0], "-test.run=^TestHelperServer$")
		child.Env = append(os.Environ(), "TESTKIT_SERVER=mute:0")
		if err := child.Start(); err != nil {
			os.Exit(4)
		}
		fmt.Printf("child %d\n", child.Process.Pid)
	case "serve": // 503 for 300 ms, then 200 "ready"
		start := time.Now()
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			if time.Since(start) < 300*time.Millisecond {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "ready")
		})
		_ = http.ListenAndServe("127.0.0.1:"+port, nil)
		os.Exit(5)
	}
	time.Sleep(time.Minute)
	os.Exit(6)
}

// helperServer starts TestHelperServer in mode on a free port and returns
// it and its URL.
func helperServer(t *testing.T, mode string) (*Server, string) {
	t.Helper()
	port, err := FreePort()
	Must(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServer$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("TESTKIT_SERVER=%s:%d", mode, port))
	s, err := StartServer(t, cmd, t.TempDir()+"/server.log")
	Must(t, err)
	return s, fmt.Sprintf("http://127.0.0.1:%d/", port)
}

// exited reports whether the server's process has exited.
func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// TestServer: WaitHTTP returns the body of the first 200, and gives up
// early when the server exits (its log says why) and at the limit when it
// never answers, naming the URL; the test's end stops the server, with
// SIGKILL when it ignores SIGTERM.
func TestServer(t *testing.T) {
	ctx := context.Background()
	t.Run("answers", func(t *testing.T) {
		s, url := helperServer(t, "serve")
		body, err := s.WaitHTTP(ctx, url, 30*time.Second)
		if err != nil || string(body) != "ready" {
			t.Fatalf("WaitHTTP = %q, %v; want ready", body, err)
		}
	})
	t.Run("exits", func(t *testing.T) {
		s, url := helperServer(t, "exit")
		start := time.Now()
		_, err := s.WaitHTTP(ctx, url, 30*time.Second)
		if err == nil || !strings.Contains(err.Error(), "exited before "+url) || time.Since(start) > 10*time.Second {
			t.Errorf("WaitHTTP of a server that exits: %v after %v", err, time.Since(start))
		}
		if log := Tail(s.Log, 100); !strings.Contains(log, "boom: no config") {
			t.Errorf("the log: %q", log)
		}
	})
	t.Run("never answers", func(t *testing.T) {
		s, url := helperServer(t, "mute")
		_, err := s.WaitHTTP(ctx, url, 500*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), url+" did not answer 200 within 500ms") {
			t.Errorf("WaitHTTP of a server that never listens: %v", err)
		}
	})
	var stopped []*Server
	t.Run("stopped at the end", func(t *testing.T) {
		old := StopGrace
		StopGrace = 300 * time.Millisecond
		t.Cleanup(func() { StopGrace = old })
		for _, mode := range []string{"mute", "stubborn"} {
			s, _ := helperServer(t, mode)
			stopped = append(stopped, s)
		}
		time.Sleep(200 * time.Millisecond) // the stubborn one ignores SIGTERM by now
	})
	for i, s := range stopped {
		if !s.exited() {
			t.Errorf("server %d still runs after its test ended", i)
		}
	}
	if len(stopped) != 2 {
		t.Errorf("started %d servers, want 2", len(stopped))
	}
	if got := Tail("/no/such/file", 10); got != "" {
		t.Errorf("Tail of a missing file = %q", got)
	}
	if got := Tail(writeTemp(t, "0123456789"), 4); got != "6789" {
		t.Errorf("Tail = %q, want 6789", got)
	}
}

func writeTemp(t *testing.T, data string) string {
	t.Helper()
	path := t.TempDir() + "/f"
	WriteFile(t, path, data)
	return path
}
