package testkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StopGrace is how long a Server has to stop after SIGTERM before it is
// killed.
var StopGrace = 15 * time.Second

// FreePort asks the kernel for a free port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Server is a process a test started that serves HTTP on 127.0.0.1 (moto,
// Gitea).
type Server struct {
	// Log is the file its output goes to.
	Log  string
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
	err  error         // its exit, once done is closed
}

// StartServer starts cmd, its output in the file logPath, in a process
// group of its own, and stops it when the test ends: SIGTERM to the group,
// SIGKILL after StopGrace.
func StartServer(t testing.TB, cmd *exec.Cmd, logPath string) (*Server, error) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	s := &Server{Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	return s, nil
}

func (s *Server) stop() {
	for _, kill := range []bool{false, true} {
		select {
		case <-s.done:
			return
		default:
		}
		signalGroup(s.cmd.Process, kill)
		select {
		case <-s.done:
			return
		case <-time.After(StopGrace):
		}
	}
}

// WaitHTTP polls url every 100 ms until it answers 200 and returns the
// body. It gives up when the server exits, when ctx ends or when limit has
// passed, with an error that names the URL and what it saw last.
func (s *Server) WaitHTTP(ctx context.Context, url string, limit time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		if resp, err := hc.Do(req); err != nil {
			last = err.Error()
		} else {
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && err == nil {
				return body, nil
			}
			last = resp.Status
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited before %s answered: %v", filepath.Base(s.cmd.Path), url, s.err)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s did not answer 200 within %v: %w (last: %s)", url, limit, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Tail returns the last n bytes of the file path, or "" when it cannot be
// read.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data[max(0, len(data)-n):])
}
