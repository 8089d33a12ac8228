package zkutil

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEveryCodeIsMapped(t *testing.T) {
	if len(codes) < 40 {
		t.Fatalf("only %d codes generated", len(codes))
	}
	for _, k := range codes {
		err := error(&Error{Code: k.code, Message: "m"})
		if !errors.Is(err, k.code) {
			t.Errorf("errors.Is(%v, %v) is false", err, k.cName)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != k.code {
			t.Errorf("errors.As lost the code of %v", k.cName)
		}
		if desc := k.code.Error(); desc == "" || desc == "unknown error code" {
			t.Errorf("%v has no description: %q", k.cName, desc)
		}
		if k.code.String() != k.cName || !strings.HasPrefix(k.cName, "ZKU_E") {
			t.Errorf("%v: String() = %q", k.cName, k.code.String())
		}
	}
	if errors.Is(&Error{Code: ErrNoNode}, ErrNodeExists) {
		t.Error("ErrNoNode matches ErrNodeExists")
	}
}

func TestErrorsFromTheLibrary(t *testing.T) {
	_, err := MakeACLEntry("xp", "123", "cdrwx")
	var e *Error
	if !errors.Is(err, ErrPerm) || !errors.As(err, &e) || !strings.Contains(e.Message, "x") {
		t.Fatalf("MakeACLEntry with a bad letter: %v, want ErrPerm naming it", err)
	}
	if _, err := IsBackwardLocking([]string{"a"}, "a"); !errors.Is(err, ErrAlreadyLocked) {
		t.Fatalf("IsBackwardLocking: %v, want ErrAlreadyLocked", err)
	}
	if _, err := Connect(context.Background(), Config{Hosts: "127.0.0.1:notaport"}); !errors.Is(err, ErrHosts) {
		t.Fatalf("Connect with bad hosts: %v, want ErrHosts", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Connect(ctx, Config{Hosts: "127.0.0.1:1"}); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect with a cancelled context: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	if d, err := MakeDigest("xp:123"); err != nil || d != "LNcZO17uqqJ4GuYoSclIsGjYniQ=" {
		t.Fatalf("MakeDigest: %q %v", d, err)
	}
	if m, err := PermLettersToMask("rw"); err != nil || m != PermRead|PermWrite {
		t.Fatalf("PermLettersToMask: %v %v", m, err)
	}
	if names, err := PermMaskToNames(PermAll, true); err != nil || len(names) != 5 {
		t.Fatalf("PermMaskToNames: %v %v", names, err)
	}
	id, err := NewLockID("node1")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := ParseLockID(id)
	if err != nil || parts.NodeID != "node1" || !parts.HasProcessID || parts.ProcessID != int64(os.Getpid()) {
		t.Fatalf("ParseLockID(%q) = %+v, %v", id, parts, err)
	}
	if p, err := (Config{}).PathID(PathTxAlive, 3); err != nil || !strings.HasSuffix(p, "alive/0000000003") {
		t.Fatalf("PathID: %q %v", p, err)
	}
	if Version() != HeaderVersion {
		t.Fatalf("library %s, header %s", Version(), HeaderVersion)
	}
}

// TestGeneratedConstantsAreCurrent fails when constants.go is older than
// include/zkutil.h (run `go generate`).
func TestGeneratedConstantsAreCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "constants.go")
	cmd := exec.Command("go", "run", "./internal/gen", "../../include/zkutil.h", out)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, msg)
	}
	want, _ := os.ReadFile(out)
	have, _ := os.ReadFile("constants.go")
	if !bytes.Equal(want, have) {
		t.Fatal("constants.go is stale: run `go generate` in bindings/go")
	}
}

func TestConfigFieldsAndPaths(t *testing.T) {
	cfg := Config{LockDir: "/locks-go/"}
	if v, err := cfg.Field(ConfigLockDir); err != nil || v != "/locks-go/" {
		t.Fatalf("Field(ConfigLockDir) = %q, %v", v, err)
	}
	if p, err := cfg.Path(PathLock, "job"); err != nil || p != "/locks-go/job" {
		t.Fatalf("Path(PathLock, job) = %q, %v", p, err)
	}
	if _, err := cfg.PathID(PathRecord, 1); !errors.Is(err, ErrInval) {
		t.Fatalf("PathID(PathRecord): %v, want ErrInval", err)
	}
}
