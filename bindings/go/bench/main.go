// Command bench measures the per-call cost of the Go binding against the
// same loops written in C (in this program, calling libzkutil directly),
// interleaved in batches on one server: a pure helper (zku_make_digest) and
// a get of a small node. Run by scripts/bench.sh.
package main

/*
#cgo pkg-config: zkutil
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zkutil.h>

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// ns per call of n zku_make_digest calls, or -1 on error.
static double c_helper_loop(int n) {
	double start = now_ns();
	for (int i = 0; i < n; i++) {
		char *out = NULL;
		if (zku_make_digest("xp:123", &out, NULL) != ZKU_OK) return -1;
		zku_string_free(out);
	}
	return (now_ns() - start) / n;
}

// ns per call of n gets of path (data copied out, as the Go call does).
static double c_get_loop(const zku_client *client, const char *path, int n) {
	double start = now_ns();
	for (int i = 0; i < n; i++) {
		zku_buf *buf = NULL;
		zku_stat st;
		if (zku_client_get(client, path, -1, NULL, &buf, &st, NULL) != ZKU_OK) return -1;
		char copy[64];
		size_t len = zku_buf_len(buf);
		memcpy(copy, zku_buf_data(buf), len < sizeof copy ? len : sizeof copy);
		zku_buf_free(buf);
	}
	return (now_ns() - start) / n;
}

static zku_client *c_connect(const char *hosts) {
	zku_config *config = NULL;
	zku_client *client = NULL;
	if (zku_config_new(&config, NULL) != ZKU_OK) return NULL;
	zku_config_set_hosts(config, hosts, NULL);
	zku_client_new(config, NULL, &client, NULL);
	zku_config_free(config);
	return client;
}
*/
import "C"

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"time"
	"unsafe"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

// batch is how many calls run back to back before switching between the
// C and the Go loop, so load changes on the machine hit both alike.
const batch = 50

func main() {
	hosts := flag.String("hosts", os.Getenv("ZKU_HOSTS"), "ZooKeeper connect string")
	n := flag.Int("n", 20000, "calls of each get loop (the helper loop makes 50x as many)")
	flag.Parse()
	if err := run(*hosts, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(hosts string, n int) error {
	ctx := context.Background()
	client, err := zkutil.Connect(ctx, zkutil.Config{Hosts: hosts})
	if err != nil {
		return err
	}
	defer client.Close()
	path := fmt.Sprintf("/zkutil-go-bench-%d", os.Getpid())
	if _, _, err := client.Create(ctx, path, []byte(`{"bench":1}`), &zkutil.CreateOptions{Flags: zkutil.CreateEphemeral}); err != nil {
		return err
	}
	chosts := C.CString(hosts)
	defer C.free(unsafe.Pointer(chosts))
	cclient := C.c_connect(chosts)
	if cclient == nil {
		return fmt.Errorf("C client: cannot connect to %s", hosts)
	}
	defer C.zku_client_free(cclient)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))

	cancellable, cancel := context.WithCancel(ctx)
	defer cancel()
	cGet := func(k int) float64 { return float64(C.c_get_loop(cclient, cpath, C.int(k))) }
	bareGet := func() error {
		if C.c_get_loop(cclient, cpath, 1) < 0 {
			return fmt.Errorf("get failed")
		}
		return nil
	}
	loops := []struct {
		name  string
		calls int
		c     func(k int) float64
		goes  func() error
	}{
		{"helper (make_digest)", 50 * n, func(k int) float64 { return float64(C.c_helper_loop(C.int(k))) },
			func() error { _, err := zkutil.MakeDigest("xp:123"); return err }},
		{"get", n, cGet, func() error { _, _, err := client.Get(ctx, path); return err }},
		{"get (cancellable ctx)", n, cGet, func() error { _, _, err := client.Get(cancellable, path); return err }},
		// One bare cgo call per get, without the binding, with and without
		// its pass through the scheduler (README, Go binding).
		{"get (bare cgo call)", n, cGet, bareGet},
		{"get (bare, Gosched)", n, cGet, func() error { runtime.Gosched(); return bareGet() }},
	}
	for _, l := range loops {
		var cs, gs, diffs []float64
		for done := 0; done < l.calls; done += batch {
			c := l.c(batch)
			if c < 0 {
				return fmt.Errorf("%s: the C loop failed", l.name)
			}
			g, err := timeLoop(batch, l.goes)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			cs, gs, diffs = append(cs, c), append(gs, g), append(diffs, g-c)
		}
		c, g := median(cs), median(gs)
		lo, hi := medianInterval(diffs)
		fmt.Printf("go-bench %-22s C %9.0f ns/call  Go %9.0f ns/call  Go-C %+7.0f ns (95%% CI %+.0f to %+.0f)  Go/C %.3f\n",
			l.name, c, g, median(diffs), lo, hi, g/c)
	}
	return nil
}

// median of the batches' means (or of the differences between a Go batch
// and the C batch just before it): a batch slowed down by the machine's
// load does not move it.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// medianInterval is a distribution-free 95% confidence interval of the
// median of xs: the order statistics 1.96 standard deviations of a
// binomial(len, 1/2) either side of the middle.
func medianInterval(xs []float64) (float64, float64) {
	sort.Float64s(xs)
	k := float64(len(xs))
	spread := 0.98 * math.Sqrt(k)
	lo := int(math.Max(0, math.Floor(k/2-spread)))
	hi := int(math.Min(k-1, math.Ceil(k/2+spread)))
	return xs[lo], xs[hi]
}

// timeLoop is the mean ns per call of k calls.
func timeLoop(k int, call func() error) (float64, error) {
	start := time.Now()
	for i := 0; i < k; i++ {
		if err := call(); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(k), nil
}
