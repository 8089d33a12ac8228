// A downstream C++ program built against an installed zkutil.hpp.
#include <cstdio>
#include <string>

#include <zkutil.hpp>

int main() {
    if (zkutil::version() != ZKU_VERSION) {
        std::fprintf(stderr, "header %s but library %s\n", ZKU_VERSION, zkutil::version().c_str());
        return 1;
    }
    try {
        std::string digest = zkutil::make_digest("xp:123");
        if (digest != "LNcZO17uqqJ4GuYoSclIsGjYniQ=") return 1;
        zkutil::make_digest(std::string("xp\0:123", 7));
        std::fprintf(stderr, "a NUL inside the account was accepted\n");
        return 1;
    } catch (const zkutil::error &e) {
        if (e.code() != ZKU_EINVAL) return 1;
    }
    std::printf("downstream C++ ok: zkutil %s\n", zkutil::version().c_str());
    return 0;
}
