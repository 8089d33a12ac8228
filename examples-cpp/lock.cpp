// Threads contend for one distributed lock, against the server in
// ZKU_HOSTS. Each holder reads a shared counter node, increments it and
// writes it back with lock::guarded_set, a write the server accepts only
// while this handle still holds the lock; the fencing token of each
// acquisition goes with it. At the end: no increment lost, tokens strictly
// increasing in hold order, and a guarded write without the lock refused.
//
// Usage: lock [THREADS [ROUNDS]]   (default 3 threads, 10 rounds each)
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "zkutil.hpp"

using namespace std::chrono_literals;

int main(int argc, char **argv) {
    if (!std::getenv("ZKU_HOSTS")) {
        std::fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    int threads = argc > 1 ? std::atoi(argv[1]) : 3;
    int rounds = argc > 2 ? std::atoi(argv[2]) : 10;
    if (threads < 1 || rounds < 1) {
        std::fprintf(stderr, "usage: lock [THREADS [ROUNDS]]\n");
        return 2;
    }
    try {
        std::string base = "/zku-example-cpp-lock-" + std::to_string(getpid());
        auto cfg = zkutil::config::make();
        cfg.set(ZKU_CONFIG_LOCK_DIR, base + "/locks/");
        auto client = zkutil::client::connect(cfg);
        std::string counter = base + "/counter";
        client.create(counter, "0", {ZKU_CREATE_PARENTS}, 10s);

        std::mutex log_mutex;
        std::vector<int64_t> tokens; // in hold order
        std::vector<std::thread> workers;
        std::exception_ptr failed;
        for (int t = 0; t < threads; t++) {
            workers.emplace_back([&, t] {
                try {
                    zkutil::lock lock(client, "counter"); // a unique identifier each
                    for (int i = 0; i < rounds; i++) {
                        int64_t token = lock.acquire(30s);
                        auto current = client.get(counter, 10s).value();
                        long n = std::stol(current.data);
                        lock.guarded_set(counter, std::to_string(n + 1), current.stat.version, 10s);
                        {
                            std::lock_guard<std::mutex> guard(log_mutex);
                            tokens.push_back(token);
                        }
                        std::printf("[thread %d] token %lld wrote %ld\n", t, static_cast<long long>(token), n + 1);
                        lock.release(10s);
                    }
                } catch (...) {
                    std::lock_guard<std::mutex> guard(log_mutex);
                    failed = std::current_exception();
                }
            });
        }
        for (auto &w : workers) w.join();
        if (failed) std::rethrow_exception(failed);

        long total = std::stol(client.get(counter, 10s).value().data);
        bool ok = total == static_cast<long>(threads) * rounds;
        for (size_t i = 1; i < tokens.size(); i++) ok = ok && tokens[i] > tokens[i - 1];

        // Fencing: a handle that does not hold the lock cannot write.
        zkutil::lock idle(client, "counter");
        try {
            idle.guarded_set(counter, "999", ZKU_ANY_VERSION, 10s);
            std::fprintf(stderr, "a guarded write without the lock was accepted\n");
            ok = false;
        } catch (const zkutil::error &e) {
            std::printf("guarded write without the lock: %s (%d)\n", e.description(), e.code());
            ok = ok && e.code() == ZKU_ENOTLOCKED;
        }

        client.remove(counter, ZKU_ANY_VERSION, 10s);
        client.remove(base + "/locks", ZKU_ANY_VERSION, 10s);
        client.remove(base, ZKU_ANY_VERSION, 10s);
        std::printf("%s: counter %ld (expected %d), %zu tokens increasing\n", ok ? "ok" : "FAILED", total, threads * rounds,
                    tokens.size());
        return ok ? 0 : 1;
    } catch (const zkutil::error &e) {
        std::fprintf(stderr, "zkutil error %d: %s\n", e.code(), e.what());
        return 1;
    }
}
