// Tests of include/zkutil.hpp against the server in ZKU_HOSTS: error
// mapping, exceptions thrown by lambdas (rethrown to the caller of
// cas_update and acquire_loop, given to the handler for state callbacks),
// move semantics, std::optional for absent nodes, and cancel. Prints one
// line per failed check and exits non-zero if any failed.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <poll.h>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>
#include <unistd.h>

#include "zkutil.hpp"

using namespace std::chrono_literals;

namespace {

int failures = 0;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                   \
        }                                                                 \
    } while (0)

// The code of the zkutil::error `call` throws; 0 if it throws none.
template <typename F>
zku_rc code_of(F call) {
    try {
        call();
    } catch (const zkutil::error &e) {
        CHECK(std::string(e.what()).size() > 0);
        return e.code();
    }
    return 0;
}

struct user_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string base;

template <typename T>
constexpr bool move_only() {
    return !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> && std::is_nothrow_move_constructible_v<T> &&
           std::is_nothrow_move_assignable_v<T>;
}
static_assert(move_only<zkutil::config>());
static_assert(move_only<zkutil::client>());
static_assert(move_only<zkutil::acl_list>());
static_assert(move_only<zkutil::cancel>());
static_assert(move_only<zkutil::lock>());
static_assert(move_only<zkutil::fifo>());
static_assert(move_only<zkutil::reader>());
static_assert(move_only<zkutil::cas>());
static_assert(move_only<zkutil::op>());
static_assert(move_only<zkutil::registration>());

void error_mapping(const zkutil::client &client) {
    std::string path = base + "/errors";
    CHECK(!client.get(path, 10s).has_value());
    CHECK(!client.exists(path, 10s).has_value());
    CHECK(code_of([&] { client.remove(path, ZKU_ANY_VERSION, 10s); }) == ZKU_ENONODE);
    client.create(path, "x", {}, 10s);
    CHECK(code_of([&] { client.create(path, "x", {}, 10s); }) == ZKU_ENODEEXISTS);
    CHECK(code_of([&] { client.set(path, "y", 7, 10s); }) == ZKU_EBADVERSION);
    CHECK(code_of([&] { client.get("no-slash", 10s); }) == ZKU_EPATH);
    CHECK(code_of([&] { client.set_json(path, "{not json", ZKU_ANY_VERSION, 10s); }) == ZKU_EJSON);
    // A NUL inside a string_view is refused before anything is sent.
    std::string with_nul = path + std::string(1, '\0') + "tail";
    CHECK(code_of([&] { client.set(with_nul, "z", ZKU_ANY_VERSION, 10s); }) == ZKU_EINVAL);
    CHECK(client.get(path, 10s).value().data == "x");
    CHECK(code_of([&] { client.get(path, std::chrono::milliseconds(int64_t(1) << 40)); }) == ZKU_EINVAL);
    // Bytes with NULs are data, not text.
    std::string bytes("a\0b", 3);
    client.set(path, bytes, ZKU_ANY_VERSION, 10s);
    CHECK(client.get(path, 10s).value().data == bytes);
    try {
        client.remove(path + "/missing", ZKU_ANY_VERSION, 10s);
        CHECK(false);
    } catch (const zkutil::error &e) {
        CHECK(e.code() == ZKU_ENONODE);
        CHECK(std::string(e.description()) == zku_strerror(ZKU_ENONODE));
        CHECK(!e.is_retryable());
        CHECK(std::string(e.what()).find("missing") != std::string::npos);
    }
    client.remove(path, ZKU_ANY_VERSION, 10s);
}

void cas_exceptions(const zkutil::client &client) {
    std::string path = base + "/cas";
    client.create(path, "1", {}, 10s);
    int calls = 0;
    try {
        zkutil::cas_update(
            client, path,
            [&](std::string_view, const zkutil::stat *) -> std::optional<std::string> {
                calls++;
                throw user_error("from the lambda");
            },
            {}, 10s);
        CHECK(false);
    } catch (const user_error &e) {
        CHECK(std::string(e.what()) == "from the lambda");
    } catch (...) {
        CHECK(false);
    }
    CHECK(calls == 1);
    CHECK(client.get(path, 10s).value().data == "1");

    // nullopt skips the write; a value is written.
    auto skipped = zkutil::cas_update(
        client, path, [](std::string_view, const zkutil::stat *) -> std::optional<std::string> { return std::nullopt; }, {}, 10s);
    CHECK(skipped.attempts == 1 && skipped.stat.version == 0);
    auto written = zkutil::cas_update(
        client, path,
        [](std::string_view value, const zkutil::stat *) -> std::optional<std::string> { return std::string(value) + "2"; }, {}, 10s);
    CHECK(written.stat.version == 1);
    CHECK(client.get(path, 10s).value().data == "12");
    // Too large a value: the library's error reaches the caller.
    auto too_large = [] (std::string_view, const zkutil::stat *) -> std::optional<std::string> {
        return std::string(ZKU_MAX_DATA_LEN + 1, 'x');
    };
    CHECK(code_of([&] { zkutil::cas_update(client, path, too_large, {}, 10s); }) == ZKU_ETOOLARGE);
    client.remove(path, ZKU_ANY_VERSION, 10s);
}

void acquire_loop_exceptions(const zkutil::client &client) {
    zkutil::lock holder(client, "held");
    zkutil::lock waiter(client, "held");
    holder.acquire(10s);
    try {
        waiter.acquire_loop([](std::string_view, int32_t) -> bool { throw user_error("holder seen"); }, 10s);
        CHECK(false);
    } catch (const user_error &e) {
        CHECK(std::string(e.what()) == "holder seen");
    }
    CHECK(code_of([&] { waiter.acquire_loop([](std::string_view, int32_t) { return false; }, 10s); }) == ZKU_EABORTED);
    CHECK(!waiter.token().has_value());
    CHECK(holder.token().has_value());
    auto who = waiter.holder(10s);
    CHECK(who.has_value() && who->id == holder.identifier());
    auto not_ours = waiter.try_release(10s);
    CHECK(!not_ours.released && not_ours.version == 0);
    CHECK(holder.is_locked());
    auto ours = holder.try_release(10s);
    CHECK(ours.released && !holder.is_locked());
    CHECK(!waiter.holder(10s).has_value());
}

// State callbacks have no caller: what they throw goes to the handler.
void state_callback_exceptions(const zkutil::config &cfg) {
    std::mutex mutex;
    std::condition_variable reported;
    std::vector<std::string> messages;
    zkutil::set_callback_exception_handler([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &ex) {
            std::lock_guard<std::mutex> guard(mutex);
            messages.push_back(ex.what());
            reported.notify_all();
        }
    });
    auto client = zkutil::client::connect(cfg);
    std::atomic<int> lock_calls{0};
    {
        zkutil::lock lock(client, "state");
        lock.on_state([&](zku_lock_state, zku_lock_state) {
            lock_calls++;
            throw user_error("lock state");
        });
        lock.acquire(10s);
        lock.release(10s); // a second call: the callback stayed installed
        std::unique_lock<std::mutex> guard(mutex);
        CHECK(reported.wait_for(guard, 10s, [&] { return messages.size() >= 2; }));
    }
    CHECK(lock_calls >= 2);
    // A reader's event callback: the same.
    std::string path = base + "/reader";
    client.create(path, "{}", {}, 10s);
    {
        zkutil::reader reader(client, path, [](const zkutil::reader_event &) { throw user_error("reader event"); }, 10s);
        client.set_json(path, R"({"a": 1})", ZKU_ANY_VERSION, 10s);
        std::unique_lock<std::mutex> guard(mutex);
        CHECK(reported.wait_for(guard, 10s, [&] { return messages.back() == "reader event"; }));
    }
    client.remove(path, ZKU_ANY_VERSION, 10s);
    client.on_state([](zku_state, zku_state) { throw user_error("client state"); });
    client.close(10s);
    {
        std::unique_lock<std::mutex> guard(mutex);
        CHECK(reported.wait_for(guard, 10s, [&] { return !messages.empty() && messages.back() == "client state"; }));
        CHECK(messages.front() == "lock state");
    }
    // A handler that throws is caught as well; the callback keeps running.
    zkutil::set_callback_exception_handler([](std::exception_ptr) { throw user_error("from the handler (expected)"); });
    {
        auto again = zkutil::client::connect(cfg);
        zkutil::lock lock(again, "state");
        std::atomic<int> calls{0};
        lock.on_state([&](zku_lock_state, zku_lock_state) {
            calls++;
            throw user_error("lock state");
        });
        lock.acquire(10s);
        lock.release(10s);
        lock.clear_on_state(); // gives it the changes still queued first
        CHECK(calls == 2);
    }
    zkutil::set_callback_exception_handler(nullptr);
}

void move_semantics() {
    auto first = zkutil::client::connect();
    zkutil::client second = std::move(first);
    CHECK(second.state() == ZKU_STATE_CONNECTED);
    CHECK(code_of([&] { first.get(base, 10s); }) == ZKU_ENULL); // NOLINT(bugprone-use-after-move)
    CHECK(first.state() == ZKU_STATE_CLOSED);                     // NOLINT(bugprone-use-after-move)
    CHECK(second.exists(base, 10s).has_value());
    // Move assignment frees the handle it replaces (ASan checks the leak).
    first = zkutil::client::connect();
    first = std::move(second);
    CHECK(first.exists(base, 10s).has_value());
    zkutil::lock empty;
    CHECK(code_of([&] { empty.acquire(1s); }) == ZKU_ENULL);
    CHECK(empty.state() == ZKU_LOCK_UNLOCKED && !empty.is_locked());
    zkutil::reader no_reader;
    CHECK(no_reader.state() == ZKU_READER_STATE_CLOSED);
}

void cancellation(const zkutil::client &client) {
    auto flag = zkutil::cancel::make();
    CHECK(!flag.is_cancelled());
    flag.request();
    CHECK(flag.is_cancelled());
    CHECK(code_of([&] { zkutil::wait_absent(client, base, 10s, &flag); }) == ZKU_ECANCELLED);
#ifdef ZKUTIL_HAS_STOP_TOKEN
    auto linked = zkutil::cancel::make();
    std::stop_source source;
    {
        auto link = linked.link(source.get_token());
        source.request_stop();
    }
    CHECK(linked.is_cancelled());
    std::printf("std::stop_token link checked\n");
#endif
}

bool readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

// The descriptors and the operations of event loops.
void event_loop(const zkutil::client &client) {
    std::string path = base + "/evloop";
    client.create(path, "{\"v\": 1}", {}, 10s);
    CHECK(readable(client.fd(), 0) && client.fd_drain() == ZKU_STATE_CONNECTED && !readable(client.fd(), 0));
    zkutil::reader r(client, path, nullptr, 10s);
    CHECK(readable(r.fd(), 0) && r.fd_drain() == ZKU_READER_STATE_FRESH);

    auto next = zkutil::get_next_start(client, path, 0, 0, 10s);
    CHECK(!next.done() && code_of([&] { next.next(); }) == ZKU_EINPROGRESS);
    client.set_json(path, "{\"v\": 2}", ZKU_ANY_VERSION, 10s);
    CHECK(readable(next.fd(), 10000) && next.done());
    CHECK(next.next().data == "{\"v\": 2}");
    CHECK(readable(r.fd(), 10000) && r.fd_drain() == ZKU_READER_STATE_FRESH && r.watch(0ms).new_json == "{\"v\": 2}");

    zkutil::lock holder(client, "evloop"), waiter(client, "evloop");
    holder.acquire(10s);
    auto acquire = waiter.acquire_start(10s);
    CHECK(code_of([&] { acquire.token(); }) == ZKU_EINPROGRESS);
    acquire.cancel();
    CHECK(readable(acquire.fd(), 10000) && code_of([&] { acquire.token(); }) == ZKU_ECANCELLED);
    acquire = waiter.acquire_start(10s); // the cancelled one is freed here
    holder.release(10s);
    CHECK(readable(acquire.fd(), 10000) && acquire.token() == waiter.token().value_or(-1));
    waiter.release(10s);

    auto gone = zkutil::wait_absent_start(client, path, 10s);
    client.remove(path, ZKU_ANY_VERSION, 10s);
    CHECK(readable(gone.fd(), 10000));
    gone.result();
    zkutil::op none;
    CHECK(code_of([&] { none.result(); }) == ZKU_ENULL);
}

// One call of every other wrapper, each result checked.
void wrappers(const zkutil::config &cfg, const zkutil::client &client) {
    CHECK(cfg.get(ZKU_CONFIG_LOCK_DIR) == base + "/locks/");
    CHECK(cfg.path(ZKU_PATH_LOCK, "k") == base + "/locks/k");
    CHECK(cfg.path(ZKU_PATH_LOCK, int64_t(7)) == base + "/locks/0000000007");
    CHECK(zkutil::make_digest("xp:123") == "LNcZO17uqqJ4GuYoSclIsGjYniQ=");
    CHECK(zkutil::lock_id("node").rfind("node-", 0) == 0);

    // ACLs: create with one, read it back.
    auto acl = zkutil::acl_list::make();
    acl.add(ZKU_PERM_ALL, "world", "anyone").add_digest("alice", "secret", "rw");
    std::string path = base + "/acl";
    auto made = client.create(path, "v", {0, 0, &acl}, 10s);
    CHECK(made.path == path && made.stat.version == 0);
    auto entries = client.get_acl(path, 10s).entries();
    CHECK(entries.size() == 2 && entries[0].scheme == "world" && entries[1].scheme == "digest");
    CHECK(entries[1].perms == (ZKU_PERM_READ | ZKU_PERM_WRITE));
    CHECK(client.set_acl(path, acl, 0, 10s).aversion == 1);
    auto only_alice = zkutil::acl_list::make();
    only_alice.add_digest("alice", "secret", "cdrwa");
    client.set_acl(path, only_alice, ZKU_ANY_VERSION, 10s);
    auto other = zkutil::client::connect(cfg);
    CHECK(other.session_id() != client.session_id() && other.session_timeout() > 0ms);
    auto renewing = zkutil::client::connect(zkutil::config::make().session_renewal(true));
    CHECK(renewing.state() == ZKU_STATE_CONNECTED);
    CHECK(code_of([&] { other.get(path, 10s); }) == ZKU_ENOAUTH);
    other.add_auth("digest", "alice:secret", 10s);
    CHECK(other.get(path, 10s).value().data == "v");
    other.on_state([](zku_state, zku_state) {});
    other.clear_on_state();
    other.set_acl(path, acl, ZKU_ANY_VERSION, 10s);
    CHECK(client.children(base, 10s).size() >= 1);
    CHECK(code_of([&] { client.children(path + "/none", 10s); }) == ZKU_ENONODE);

    // Waits.
    client.set(path, "w", ZKU_ANY_VERSION, 10s);
    auto next = zkutil::get_next(client, path, 0, 0, 10s);
    CHECK(next.data == "w" && next.stat.version == 1);
    CHECK(code_of([&] { zkutil::wait_absent(client, path, 0ms); }) == ZKU_ETIMEOUT);
    client.remove(path, ZKU_ANY_VERSION, 10s);
    zkutil::wait_absent(client, path, 10s);

    // The CAS handle: a conflicting write makes commit fail, reread fixes it.
    std::string counter = base + "/cas-handle";
    client.create(counter, "1", {}, 10s);
    auto cas = zkutil::cas::begin(client, counter, {}, 10s);
    CHECK(cas.value() == "1" && cas.version() == 0 && cas.stat().version == 0);
    client.set(counter, "5", ZKU_ANY_VERSION, 10s);
    CHECK(code_of([&] { cas.commit("2", 10s); }) == ZKU_EBADVERSION);
    cas.reread(10s);
    CHECK(cas.value() == "5");
    CHECK(cas.commit("6", 10s).version == 2);
    client.remove(counter, ZKU_ANY_VERSION, 10s);

    // The lock's value, descriptor and guarded delete; a lock with its own client.
    std::atomic<int> changes{0};
    CHECK(code_of([&] { zkutil::lock::with_config(cfg, "values", nullptr); }) == ZKU_EINVAL);
    auto own = zkutil::lock::with_config(cfg, "values", [&](zku_lock_state, zku_lock_state) { changes++; });
    CHECK(own.path() == base + "/locks/values");
    own.set_watch_delay(20ms);
    int fd = own.fd();
    CHECK(fd >= 0);
    own.acquire(10s);
    CHECK(own.fd_drain() == ZKU_LOCK_HELD);
    int32_t version = own.set_val(R"({"job": 1})");
    auto val = own.get_val();
    CHECK(val.json == R"({"job":1})" || val.json == R"({"job": 1})");
    CHECK(val.version == version);
    std::string guarded = base + "/guarded";
    client.create(guarded, "", {}, 10s);
    own.guarded_remove(guarded);
    CHECK(!client.exists(guarded, 10s).has_value());
    own.release();
    CHECK(own.fd_drain() == ZKU_LOCK_UNLOCKED);
    CHECK(!own.lost_reason().has_value());
    own = zkutil::lock(); // frees it: its callback ran before
    CHECK(changes == 2);
}

// A registration node: present, re-created after a delete (the callback
// sees ABSENT then PRESENT), data updated, listed as a member, deleted
// when the handle goes; another session's node is left alone.
void registrations(const zkutil::client &client) {
    std::string parent = base + "/services";
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<zku_registration_state> seen;
    {
        zkutil::registration reg(client, parent + "/a", "addr-1", {}, 10s);
        CHECK(reg.state() == ZKU_REGISTRATION_PRESENT);
        CHECK(reg.path() == parent + "/a");
        CHECK(!reg.absent_reason().has_value());
        reg.on_state([&](zku_registration_state, zku_registration_state now) {
            std::lock_guard<std::mutex> guard(mutex);
            seen.push_back(now);
            changed.notify_all();
        });
        reg.set_data("addr-2", 10s);
        auto other = zkutil::client::connect();
        std::this_thread::sleep_for(100ms);
        other.remove(parent + "/a", ZKU_ANY_VERSION, 10s);
        {
            std::unique_lock<std::mutex> guard(mutex);
            changed.wait_for(guard, 20s, [&] { return seen.size() >= 2; });
        }
        CHECK(seen.size() >= 2 && seen[0] == ZKU_REGISTRATION_ABSENT && seen[1] == ZKU_REGISTRATION_PRESENT);
        auto list = zkutil::members(client, parent, 10s);
        CHECK(list.size() == 1 && list[0].name == "a" && list[0].data == "addr-2");
        CHECK(reg.fd() >= 0 && reg.fd_drain() == ZKU_REGISTRATION_PRESENT);
        CHECK(code_of([&] { zkutil::registration(client, "relative", "", {}, 10s); }) == ZKU_EPATH);
        CHECK(code_of([&] { zkutil::registration(client, parent + "/t", "", {0, 1000ms}, 10s); }) == ZKU_EINVAL);

        // Another session's node is left alone.
        other.create(parent + "/b", "theirs", {ZKU_CREATE_EPHEMERAL}, 10s);
        zkutil::registration blocked(client, parent + "/b", "ours", {}, 10s);
        CHECK(blocked.state() == ZKU_REGISTRATION_ABSENT && blocked.absent_reason().has_value());
        blocked.close(10s);
        CHECK(client.get(parent + "/b", 10s)->data == "theirs");
    }
    CHECK(zkutil::members(client, parent, 10s).empty());
    CHECK(code_of([&] { zkutil::members(client, parent + "/none", 10s); }) == ZKU_ENONODE);
    client.remove(parent, ZKU_ANY_VERSION, 10s);
}

} // namespace

// The sequential locks: the FIFO mutex, a write side's read side and its
// downgrade, a leader participant, bad handles.
void fifo_locks(const zkutil::client &client) {
    auto mutex = zkutil::fifo::mutex(client, "fifo", "me");
    auto other = zkutil::fifo::mutex(client, "fifo", "other");
    int64_t token = mutex.acquire(10s);
    CHECK(mutex.state() == ZKU_LOCK_HELD && mutex.token() == token);
    CHECK(!other.try_acquire(10s));
    auto line = mutex.contenders(10s);
    CHECK(line.size() == 1 && line[0].id == "me" && line[0].name.find("-lock-") != std::string::npos);
    CHECK(mutex.path() == base + "/locks/fifo");
    mutex.release(10s);
    CHECK(!mutex.token() && !mutex.lost_reason());
    CHECK(other.try_acquire(10s).has_value());
    // cancel_acquire ends an acquire blocked in another thread.
    int blocked_rc = 0;
    std::thread waiter([&] { blocked_rc = code_of([&] { mutex.acquire(zkutil::forever); }); });
    std::this_thread::sleep_for(200ms);
    mutex.cancel_acquire();
    waiter.join();
    CHECK(blocked_rc == ZKU_ECANCELLED);
    CHECK(other.contenders(10s).size() == 1);
    other.release(10s);

    auto write = zkutil::fifo::write(client, "rw");
    auto read = zkutil::fifo::read_of(write);
    auto rival = zkutil::fifo::write(client, "rw");
    int64_t write_token = write.acquire(10s);
    CHECK(read.acquire(0ms) == write_token); // granted at once under the write side
    write.release(10s);
    CHECK(read.state() == ZKU_LOCK_HELD);
    CHECK(!rival.try_acquire(10s)); // the downgraded read keeps writers out
    read.release(10s);
    CHECK(rival.try_acquire(10s).has_value());
    rival.release(10s);
    CHECK(code_of([&] { zkutil::fifo::read_of(mutex); }) == ZKU_EINVAL);
    CHECK(code_of([&] { zkutil::fifo::read_of(zkutil::fifo()); }) == ZKU_ENULL);

    auto standby = zkutil::fifo::leader(client, "election", "standby");
    auto leader = zkutil::fifo::leader(client, "election", "first");
    standby.acquire(10s);
    auto starting = leader.acquire_start(10s); // a participant that does not wait to lead
    CHECK(code_of([&] { starting.token(); }) == ZKU_EINPROGRESS);
    standby.release(10s);
    CHECK(readable(starting.fd(), 10000) && starting.token() == leader.token().value_or(-1));
    leader.release(10s);
    std::atomic<int> changes{0};
    leader.on_state([&](zku_lock_state, zku_lock_state) { changes++; });
    CHECK(leader.fd() >= 0);
    leader.acquire(10s);
    CHECK(leader.fd_drain() == ZKU_LOCK_HELD);
    leader.release(10s);
    leader.clear_on_state(); // gives it the changes still queued first
    CHECK(changes == 2);
    auto reader = zkutil::fifo::read(client, "rw");
    CHECK(reader.try_acquire(10s).has_value());
    reader.release(10s);
}

int main() {
    if (!std::getenv("ZKU_HOSTS")) {
        std::fprintf(stderr, "set ZKU_HOSTS, e.g. 127.0.0.1:2181\n");
        return 2;
    }
    try {
        base = "/zku-cpp-test-" + std::to_string(getpid());
        auto cfg = zkutil::config::make();
        cfg.set(ZKU_CONFIG_LOCK_DIR, base + "/locks/");
        auto client = zkutil::client::connect(cfg);
        client.create(base, "", {}, 10s);
        error_mapping(client);
        cas_exceptions(client);
        acquire_loop_exceptions(client);
        state_callback_exceptions(cfg);
        move_semantics();
        wrappers(cfg, client);
        event_loop(client);
        cancellation(client);
        fifo_locks(client);
        registrations(client);
        for (const auto &child : client.children(base + "/locks", 10s)) client.remove(base + "/locks/" + child, -1, 10s);
        client.remove(base + "/locks", ZKU_ANY_VERSION, 10s);
        client.remove(base, ZKU_ANY_VERSION, 10s);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        return 1;
    }
    std::printf("%s (%d failed checks)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
