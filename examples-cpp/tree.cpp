// Imports a small tree from a JSON document, exports it again and checks
// that the export imports to the same tree, against the server in
// ZKU_HOSTS.
#include <cstdio>
#include <cstdlib>
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
        std::string root = "/zku-example-cpp-tree-" + std::to_string(getpid());
        const char *document = R"({"__val__": {"v": 1}, "app": {"db": {"__text__": "host=127.0.0.1"}, "cache": {}}})";
        auto stats = zkutil::import_hierarchy(client, root, document, std::nullopt, 0, 10s);
        std::printf("imported %llu nodes (%llu created)\n", static_cast<unsigned long long>(stats.nodes),
                    static_cast<unsigned long long>(stats.created));

        std::string exported = zkutil::export_hierarchy(client, root, std::nullopt, ZKU_EXPORT_PRETTY, 10s);
        std::printf("%s\n", exported.c_str());

        // The export is lossless: importing it elsewhere and exporting
        // that gives the same text.
        std::string copy = root + "-copy";
        zkutil::import_hierarchy(client, copy, exported, std::nullopt, 0, 10s);
        bool ok = zkutil::export_hierarchy(client, copy, std::nullopt, ZKU_EXPORT_PRETTY, 10s) == exported;
        ok = ok && client.children(root + "/app", 10s).size() == 2;

        for (const auto &top : {root, copy}) {
            for (const auto &p : {top + "/app/db", top + "/app/cache", top + "/app", top}) client.remove(p, ZKU_ANY_VERSION, 10s);
        }
        std::printf("%s\n", ok ? "ok" : "FAILED");
        return ok ? 0 : 1;
    } catch (const zkutil::error &e) {
        std::fprintf(stderr, "zkutil error %d: %s\n", e.code(), e.what());
        return 1;
    }
}
