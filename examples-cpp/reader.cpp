// A cached reader of a JSON configuration node, against the server in
// ZKU_HOSTS: reads members by JSON Pointer without a round trip, gets
// every change through a lambda on a library thread, and waits for
// changes with reader::watch. The writer here is the same program.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unistd.h>

#include "zkutil.hpp"

using namespace std::chrono_literals;

int main() {
    if (!std::getenv("ZKU_HOSTS")) {
        std::fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    try {
        auto client = zkutil::client::connect();
        std::string path = "/zku-example-cpp-reader-" + std::to_string(getpid());
        client.create(path, R"({"jobs": {"num": 1}, "name": "batch"})", {}, 10s);

        std::mutex mutex;
        std::condition_variable changed;
        int changes_seen = 0;
        zkutil::reader reader(
            client, path,
            [&](const zkutil::reader_event &event) {
                if (event.kind != ZKU_READER_EVENT_CHANGED) return;
                std::printf("event: %.*s -> %.*s\n", static_cast<int>(event.old_json.size()), event.old_json.data(),
                            static_cast<int>(event.new_json.size()), event.new_json.data());
                std::lock_guard<std::mutex> guard(mutex);
                changes_seen++;
                changed.notify_all();
            },
            10s);

        bool ok = reader.get_pointer("/jobs/num") == std::optional<std::string>("1");
        ok = ok && !reader.get_pointer("/jobs/missing").has_value();

        client.set_json(path, R"({"jobs": {"num": 2}, "name": "batch"})", ZKU_ANY_VERSION, 10s);
        auto change = reader.watch(10s);
        std::printf("watch: %s -> %s (version %d)\n", change.old_json.c_str(), change.new_json.c_str(), change.stat.version);
        ok = ok && reader.get_pointer("/jobs/num") == std::optional<std::string>("2");
        {
            std::unique_lock<std::mutex> guard(mutex);
            ok = ok && changed.wait_for(guard, 10s, [&] { return changes_seen >= 1; });
        }
        reader.close();
        ok = ok && reader.state() == ZKU_READER_STATE_CLOSED;
        client.remove(path, ZKU_ANY_VERSION, 10s);
        std::printf("%s\n", ok ? "ok" : "FAILED");
        return ok ? 0 : 1;
    } catch (const zkutil::error &e) {
        std::fprintf(stderr, "zkutil error %d: %s\n", e.code(), e.what());
        return 1;
    }
}
