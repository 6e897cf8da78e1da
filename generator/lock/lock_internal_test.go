package lock

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRefusalWaitsForTheHolderToWriteItsName: a command refused between
// the holder's flock and its writing its name waits a moment and names
// it, instead of "it has not written its name yet".
func TestRefusalWaitsForTheHolderToWriteItsName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graft.lock.flock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if held, err := flock(f); err != nil || !held {
		t.Fatalf("flock: %v %v", held, err)
	}
	holder := Holder{Migration: "m", Command: "clone", PID: os.Getpid(), Host: hostname(), Since: time.Now()}
	go func() {
		time.Sleep(150 * time.Millisecond)
		data, _ := json.Marshal(holder)
		_, _ = f.WriteAt(data, 0)
	}()
	_, err = Acquire(path, Holder{Migration: "m", Command: "render", PID: os.Getpid() + 1, Host: hostname(), Since: time.Now()})
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "locked by graft clone (pid") {
		t.Errorf("refusal %v, want it to name the holder", err)
	}
}
