package zkutil_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

// hosts is the test server: $ZKU_TEST_HOSTS, else a server started here
// with scripts/zk-server.sh (stopped when the tests end).
var hosts string

func TestMain(m *testing.M) {
	if role := os.Getenv("ZKU_GO_HELPER"); role != "" {
		os.Exit(runHelper(role))
	}
	hosts = os.Getenv("ZKU_TEST_HOSTS")
	stop := func() {}
	if hosts == "" {
		var err error
		hosts, _, stop, err = startServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting ZooKeeper:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startServer starts a server of its own in a new directory (its JVM's
// pid is in dir/pid); stop stops it and removes the directory.
func startServer() (hosts, dir string, stop func(), err error) {
	dir, err = os.MkdirTemp("", "zkutil-go-zk")
	if err != nil {
		return "", "", nil, err
	}
	script, _ := filepath.Abs("../../scripts/zk-server.sh")
	out, err := exec.Command(script, "start", dir, "--owner", fmt.Sprint(os.Getpid())).Output()
	if err != nil {
		os.RemoveAll(dir)
		return "", "", nil, fmt.Errorf("%s start: %w", script, err)
	}
	stop = func() {
		_ = exec.Command(script, "stop", dir).Run()
		os.RemoveAll(dir)
	}
	return strings.TrimSpace(string(out)), dir, stop, nil
}

var pathSeq atomic.Int64

// uniquePath is a fresh absolute path for one test.
func uniquePath(t *testing.T) string {
	return fmt.Sprintf("/zkutil-go-test-%d-%d-%s", os.Getpid(), pathSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "_"))
}

func connect(t *testing.T) *zkutil.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := zkutil.Connect(ctx, zkutil.Config{Hosts: hosts})
	if err != nil {
		t.Fatalf("connect %s: %v", hosts, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// timeout is the context of one test step: generous, for a loaded machine.
func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
