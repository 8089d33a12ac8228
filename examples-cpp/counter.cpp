// A shared counter incremented with compare-and-swap (zkutil::cas_update)
// by several threads at once, against the server in ZKU_HOSTS. The update
// function computes the new value from the current one; on a conflict the
// library reads again and calls it again. At the end the counter equals
// the number of increments: none was lost.
//
// Usage: counter [THREADS [INCREMENTS]]   (default 4 threads, 50 each)
#include <atomic>
#include <cstdio>
#include <cstdlib>
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
    int threads = argc > 1 ? std::atoi(argv[1]) : 4;
    int increments = argc > 2 ? std::atoi(argv[2]) : 50;
    if (threads < 1 || increments < 1) {
        std::fprintf(stderr, "usage: counter [THREADS [INCREMENTS]]\n");
        return 2;
    }
    try {
        auto client = zkutil::client::connect();
        std::string path = "/zku-example-cpp-counter-" + std::to_string(getpid());
        // JSON mode, created with the initial value 0 on the first update.
        zkutil::cas_options options{ZKU_CAS_JSON | ZKU_CAS_CREATE, "0", 0};
        std::atomic<unsigned> attempts{0};
        std::atomic<int> errors{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; t++) {
            workers.emplace_back([&] {
                for (int i = 0; i < increments; i++) {
                    try {
                        auto done = zkutil::cas_update(
                            client, path,
                            [](std::string_view value, const zkutil::stat *) -> std::optional<std::string> {
                                return std::to_string(std::stol(std::string(value)) + 1);
                            },
                            options, 30s);
                        attempts += done.attempts;
                    } catch (const zkutil::error &e) {
                        std::fprintf(stderr, "cas_update: %d %s\n", e.code(), e.what());
                        errors++;
                    }
                }
            });
        }
        for (auto &w : workers) w.join();
        auto final_value = client.get_json(path, 10s).value();
        long expected = static_cast<long>(threads) * increments;
        long got = std::stol(final_value.data);
        client.remove(path, ZKU_ANY_VERSION, 10s);
        bool ok = errors == 0 && got == expected;
        std::printf("%s: counter %ld (expected %ld), %u attempts for %ld increments\n", ok ? "ok" : "FAILED", got, expected,
                    attempts.load(), expected);
        return ok ? 0 : 1;
    } catch (const zkutil::error &e) {
        std::fprintf(stderr, "zkutil error %d: %s\n", e.code(), e.what());
        return 1;
    }
}
