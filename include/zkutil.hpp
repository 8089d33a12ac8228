// zkutil for C++17: header-only RAII wrappers over the C API in zkutil.h.
//
// - Handles (config, client, acl_list, cancel, lock, reader, cas) are
//   move-only; the destructor frees the C handle. A moved-from or
//   default-constructed handle is empty: calls on it throw
//   zkutil::error with code ZKU_ENULL (getters that never fail return
//   what the C function returns for NULL).
// - Failures throw zkutil::error: code() is the C code (ZKU_E*, negative),
//   what() the library's detailed message. One class for every code:
//   test code() (or is_retryable()) in a catch.
// - Text inputs are std::string_view; a NUL byte inside one throws
//   ZKU_EINVAL before anything is sent (the C API takes C strings). Node
//   data is std::string_view in and std::string out (bytes, NULs allowed).
// - Timeouts are std::chrono::milliseconds: zkutil::forever (-1) waits for
//   ever, 0 makes one attempt; longer than INT32_MAX ms throws ZKU_EINVAL.
// - Every blocking call takes `const cancel *` last (nullptr: none).
// - std::optional where a node (or value) may be absent: client::get,
//   get_json, exists, lock::token, lock::holder, lock::lost_reason,
//   reader::get_pointer.
// - Callbacks are lambdas (std::function). An exception thrown by a lambda
//   never crosses the C library: it is caught on the library side. Where
//   there is a caller waiting (cas_update, lock::acquire_loop) it is
//   rethrown to that caller once the C call has returned. State and event
//   callbacks run on library threads with no caller: their exceptions go
//   to the handler set with set_callback_exception_handler (default: one
//   line on stderr), and the callback stays installed.
// Compiles alone as C++17 (-Wall -Wextra -Wpedantic -Werror). See
// docs/cpp.md.
#ifndef ZKUTIL_HPP
#define ZKUTIL_HPP

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if __cplusplus >= 202002L && __has_include(<stop_token>)
#include <stop_token>
#define ZKUTIL_HAS_STOP_TOKEN 1
#endif

#include "zkutil.h"

namespace zkutil {

// ---- errors ------------------------------------------------------------

// A failed call: code() is the C code (ZKU_E*), what() the message.
class error : public std::runtime_error {
public:
    error(zku_rc code, const std::string &message) : std::runtime_error(message), code_(code) {}
    zku_rc code() const noexcept { return code_; }
    // zku_strerror's text for the code ("node does not exist", ...).
    const char *description() const noexcept { return zku_strerror(code_); }
    // Connection loss: the session may be alive; wait and try again.
    bool is_retryable() const noexcept { return code_ == ZKU_ECONNECTIONLOSS; }

private:
    zku_rc code_;
};

using stat = zku_stat;
using milliseconds = std::chrono::milliseconds;
// Wait without a time limit.
inline constexpr milliseconds forever{-1};

class cancel;

namespace detail {

// Throws zkutil::error for a failed rc, freeing the C error object. `err`
// is a reference so it is read here, after the call that sets it: in
// check(zku_f(..., &err), err) the order of the arguments' evaluation is
// unspecified.
inline void check(zku_rc rc, zku_error *const &err) {
    if (rc == ZKU_OK) {
        zku_error_free(err);
        return;
    }
    std::string message = err ? zku_error_message(err) : zku_strerror(rc);
    zku_error_free(err);
    throw error(rc, message);
}

// A C string for the C API; text with a NUL inside would be cut short.
inline std::string c_str(std::string_view text, const char *what) {
    if (text.find('\0') != std::string_view::npos) {
        throw error(ZKU_EINVAL, std::string(what) + " contains a NUL byte");
    }
    return std::string(text);
}

inline const char *opt_c_str(const std::optional<std::string> &text) { return text ? text->c_str() : nullptr; }

inline std::optional<std::string> opt_arg(const std::optional<std::string_view> &text, const char *what) {
    if (!text) return std::nullopt;
    return c_str(*text, what);
}

inline int32_t timeout_ms(milliseconds timeout) {
    auto ms = timeout.count();
    if (ms > std::numeric_limits<int32_t>::max() || ms < std::numeric_limits<int32_t>::min()) {
        throw error(ZKU_EINVAL, "timeout out of range: " + std::to_string(ms) + " ms");
    }
    return static_cast<int32_t>(ms);
}

inline const uint8_t *bytes(std::string_view data) { return reinterpret_cast<const uint8_t *>(data.data()); }

// Takes ownership of a library string (NULL: empty).
inline std::string take_string(char *s) {
    std::string out = s ? s : "";
    zku_string_free(s);
    return out;
}

inline std::string take_buf(zku_buf *buf) {
    std::string out;
    if (buf) out.assign(zku_buf_str(buf), zku_buf_len(buf));
    zku_buf_free(buf);
    return out;
}

inline std::vector<std::string> take_strings(zku_strings *list) {
    std::vector<std::string> out;
    for (size_t i = 0; i < zku_strings_len(list); i++) out.emplace_back(zku_strings_get(list, i));
    zku_strings_free(list);
    return out;
}

inline const zku_cancel *native(const cancel *c);

// The handler for exceptions thrown by state and event callbacks.
using exception_handler = std::function<void(std::exception_ptr)>;

struct handler_slot {
    std::mutex mutex;
    exception_handler handler;
};

inline handler_slot &callback_handler() {
    static handler_slot slot;
    return slot;
}

inline void report_callback_exception(std::exception_ptr e) noexcept {
    exception_handler handler;
    {
        std::lock_guard<std::mutex> guard(callback_handler().mutex);
        handler = callback_handler().handler;
    }
    try {
        if (handler) {
            handler(e);
            return;
        }
        std::rethrow_exception(e);
    } catch (const std::exception &ex) {
        std::fprintf(stderr, "zkutil: exception in a callback: %s\n", ex.what());
    } catch (...) {
        std::fprintf(stderr, "zkutil: exception in a callback\n");
    }
}

// Runs a state or event callback; nothing it throws leaves.
template <typename F, typename... Args>
void run_callback(void *user_data, Args... args) noexcept {
    try {
        (*static_cast<F *>(user_data))(args...);
    } catch (...) {
        report_callback_exception(std::current_exception());
    }
}

template <typename F>
void delete_callback(void *user_data) noexcept {
    delete static_cast<F *>(user_data);
}

// Moves a callback to the heap for the library; the library owns it once
// the registration succeeded (free_fn deletes it), the caller otherwise.
template <typename F>
void register_callback(F &&fn, const std::function<zku_rc(void *, zku_error **)> &install) {
    using Fn = std::decay_t<F>;
    auto box = std::make_unique<Fn>(std::forward<F>(fn));
    zku_error *err = nullptr;
    zku_rc rc = install(box.get(), &err);
    check(rc, err);
    box.release();
}

// A move-only owner of one C handle.
template <typename T, void (*Free)(T *)>
class handle {
public:
    handle() = default;
    explicit handle(T *raw) : raw_(raw) {}
    handle(handle &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    handle &operator=(handle &&other) noexcept {
        if (this != &other) Free(std::exchange(raw_, std::exchange(other.raw_, nullptr)));
        return *this;
    }
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    ~handle() { Free(raw_); }

    T *get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }

private:
    T *raw_ = nullptr;
};

} // namespace detail

// Sets the process-wide handler for exceptions thrown by state and event
// callbacks (client::on_state, lock::on_state, reader events), which run
// on library threads with no caller to rethrow to. It runs on that thread
// with the exception; an empty function restores the default (one line on
// stderr). What the handler itself throws is caught and printed instead.
inline void set_callback_exception_handler(std::function<void(std::exception_ptr)> handler) {
    std::lock_guard<std::mutex> guard(detail::callback_handler().mutex);
    detail::callback_handler().handler = std::move(handler);
}

// The linked library's version, e.g. "0.1.0".
inline std::string version() { return zku_version(); }

// ---- cancel ------------------------------------------------------------

// A cancellation flag for blocking calls (zku_cancel): pass its address as
// a call's last argument; cancel() makes the call throw ZKU_ECANCELLED
// (sticky: make a new one per operation). Thread-safe.
class cancel {
public:
    // A new flag (throws on failure).
    static cancel make() {
        zku_cancel *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_cancel_new(&raw, &err), err);
        return cancel(raw);
    }
    cancel() = default;

    void request() const noexcept { zku_cancel_cancel(h_.get()); }
    bool is_cancelled() const noexcept { return zku_cancel_is_cancelled(h_.get()); }
    const zku_cancel *native() const noexcept { return h_.get(); }

#ifdef ZKUTIL_HAS_STOP_TOKEN
    // C++20: cancels this flag when `token` is stopped, for as long as the
    // returned object lives (keep it shorter-lived than this cancel).
    struct on_stop {
        const zku_cancel *flag;
        void operator()() const noexcept { zku_cancel_cancel(flag); }
    };
    std::stop_callback<on_stop> link(std::stop_token token) const { return std::stop_callback<on_stop>(std::move(token), on_stop{h_.get()}); }
#endif

private:
    explicit cancel(zku_cancel *raw) : h_(raw) {}
    detail::handle<zku_cancel, zku_cancel_free> h_;
};

inline const zku_cancel *detail::native(const cancel *c) { return c ? c->native() : nullptr; }

// ---- ACL lists -------------------------------------------------------------

struct acl_entry {
    int32_t perms; // ZKU_PERM_* bits
    std::string scheme;
    std::string id;
};

// An ordered ACL (zku_acl_list), to give (create, set_acl) or read one.
class acl_list {
public:
    static acl_list make() {
        zku_acl_list *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_acl_list_new(&raw, &err), err);
        return acl_list(raw);
    }
    acl_list() = default;
    explicit acl_list(zku_acl_list *owned) : h_(owned) {}

    acl_list &add(int32_t perms, std::string_view scheme, std::string_view id) {
        zku_error *err = nullptr;
        auto s = detail::c_str(scheme, "scheme");
        auto i = detail::c_str(id, "id");
        detail::check(zku_acl_list_add(h_.get(), perms, s.c_str(), i.c_str(), &err), err);
        return *this;
    }
    // A digest entry for user:password with permission letters ("cdrwa").
    acl_list &add_digest(std::string_view user, std::string_view password, std::string_view perms) {
        zku_error *err = nullptr;
        auto u = detail::c_str(user, "user");
        auto p = detail::c_str(password, "password");
        auto l = detail::c_str(perms, "perms");
        detail::check(zku_acl_list_add_digest(h_.get(), u.c_str(), p.c_str(), l.c_str(), &err), err);
        return *this;
    }
    size_t size() const noexcept { return zku_acl_list_len(h_.get()); }
    acl_entry at(size_t index) const {
        int32_t perms = 0;
        const char *scheme = nullptr;
        const char *id = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_acl_list_get(h_.get(), index, &perms, &scheme, &id, &err), err);
        return acl_entry{perms, scheme, id};
    }
    std::vector<acl_entry> entries() const {
        std::vector<acl_entry> out;
        for (size_t i = 0; i < size(); i++) out.push_back(at(i));
        return out;
    }
    const zku_acl_list *native() const noexcept { return h_.get(); }

private:
    detail::handle<zku_acl_list, zku_acl_list_free> h_;
};

// ---- config --------------------------------------------------------------

// Client configuration (zku_config); unset fields come from ZKU_*.
class config {
public:
    static config make() {
        zku_config *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_config_new(&raw, &err), err);
        return config(raw);
    }
    config() = default;

    config &hosts(std::string_view hosts) {
        auto h = detail::c_str(hosts, "hosts");
        return apply([&](zku_error **err) { return zku_config_set_hosts(h_.get(), h.c_str(), err); });
    }
    config &session_timeout(milliseconds timeout) {
        return apply([&](zku_error **err) { return zku_config_set_session_timeout_ms(h_.get(), timeout.count(), err); });
    }
    // Open a new session after an expiry (zku_config_set_session_renewal).
    config &session_renewal(bool renew) {
        return apply([&](zku_error **err) { return zku_config_set_session_renewal(h_.get(), renew, err); });
    }
    config &connect_timeout(milliseconds timeout) {
        return apply([&](zku_error **err) { return zku_config_set_connect_timeout_ms(h_.get(), timeout.count(), err); });
    }
    config &auth(std::string_view scheme, std::string_view user, std::string_view password) {
        auto s = detail::c_str(scheme, "scheme");
        auto u = detail::c_str(user, "user");
        auto p = detail::c_str(password, "password");
        return apply([&](zku_error **err) { return zku_config_set_auth(h_.get(), s.c_str(), u.c_str(), p.c_str(), err); });
    }
    config &add_acl(std::string_view user, std::string_view password, std::string_view perms) {
        auto u = detail::c_str(user, "user");
        auto p = detail::c_str(password, "password");
        auto l = detail::c_str(perms, "perms");
        return apply([&](zku_error **err) { return zku_config_add_acl(h_.get(), u.c_str(), p.c_str(), l.c_str(), err); });
    }
    // A text field (ZKU_CONFIG_*).
    config &set(zku_config_field field, std::string_view value) {
        auto v = detail::c_str(value, "value");
        return apply([&](zku_error **err) { return zku_config_set(h_.get(), field, v.c_str(), err); });
    }
    std::string get(zku_config_field field) const {
        char *out = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_config_get(h_.get(), field, &out, &err), err);
        return detail::take_string(out);
    }
    // A recipe path (ZKU_PATH_*), as zku_config_path / zku_config_path_id.
    std::string path(zku_path_kind kind, std::string_view key) const {
        auto k = detail::c_str(key, "key");
        char *out = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_config_path(h_.get(), kind, k.c_str(), &out, &err), err);
        return detail::take_string(out);
    }
    std::string path(zku_path_kind kind, int64_t id) const {
        char *out = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_config_path_id(h_.get(), kind, id, &out, &err), err);
        return detail::take_string(out);
    }
    const zku_config *native() const noexcept { return h_.get(); }

private:
    explicit config(zku_config *raw) : h_(raw) {}
    template <typename F>
    config &apply(F set) {
        zku_error *err = nullptr;
        detail::check(set(&err), err);
        return *this;
    }
    detail::handle<zku_config, zku_config_free> h_;
};

// ---- client --------------------------------------------------------------

// A node's data and stat.
struct node {
    std::string data;
    zkutil::stat stat;
};

// How client::create makes a node.
struct create_options {
    uint32_t flags = 0;           // ZKU_CREATE_* bits
    int64_t ttl_ms = 0;           // > 0: a TTL node
    const acl_list *acl = nullptr; // nullptr: the configured default
};

struct created {
    std::string path; // with the sequence number, if any
    zkutil::stat stat;
};

// A ZooKeeper session (zku_client). Thread-safe.
class client {
public:
    // Connects (config nullptr: everything from ZKU_* and defaults).
    static client connect(const config *cfg = nullptr, const cancel *c = nullptr) {
        zku_client *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_client_new(cfg ? cfg->native() : nullptr, detail::native(c), &raw, &err), err);
        return client(raw);
    }
    static client connect(const config &cfg, const cancel *c = nullptr) { return connect(&cfg, c); }
    client() = default;

    // Ends the session now; calls in progress throw ZKU_ECLOSED.
    void close(milliseconds timeout, const cancel *c = nullptr) const {
        zku_error *err = nullptr;
        detail::check(zku_client_close(h_.get(), detail::timeout_ms(timeout), detail::native(c), &err), err);
    }
    int64_t session_id() const noexcept { return zku_client_session_id(h_.get()); }
    milliseconds session_timeout() const noexcept { return milliseconds(zku_client_session_timeout_ms(h_.get())); }
    zku_state state() const noexcept { return zku_client_state(h_.get()); }

    // fn(old_state, new_state) on a library thread (see zku_state_fn).
    void on_state(std::function<void(zku_state, zku_state)> fn) const {
        using Fn = std::function<void(zku_state, zku_state)>;
        detail::register_callback(std::move(fn), [&](void *box, zku_error **err) {
            return zku_client_set_state_callback(h_.get(), detail::run_callback<Fn, zku_state, zku_state>, box,
                                                 detail::delete_callback<Fn>, err);
        });
    }
    // Removes the state callback (waits for a running call).
    void clear_on_state() const {
        zku_error *err = nullptr;
        detail::check(zku_client_set_state_callback(h_.get(), nullptr, nullptr, nullptr, &err), err);
    }
    // A descriptor readable on session state changes (owned by the client;
    // see zku_client_fd), and the state it was drained at.
    int fd() const {
        int fd = -1;
        zku_error *err = nullptr;
        detail::check(zku_client_fd(h_.get(), &fd, &err), err);
        return fd;
    }
    zku_state fd_drain() const {
        zku_state state = zku_client_fd_drain(h_.get());
        if (state < 0) throw error(state, zku_strerror(state));
        return state;
    }

    void add_auth(std::string_view scheme, std::string_view auth, milliseconds timeout, const cancel *c = nullptr) const {
        auto s = detail::c_str(scheme, "scheme");
        zku_error *err = nullptr;
        detail::check(zku_client_add_auth(h_.get(), s.c_str(), detail::bytes(auth), auth.size(), detail::timeout_ms(timeout),
                                          detail::native(c), &err),
                      err);
    }

    created create(std::string_view path, std::string_view data, const create_options &options, milliseconds timeout,
                   const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        char *out = nullptr;
        created result{};
        zku_error *err = nullptr;
        detail::check(zku_client_create(h_.get(), p.c_str(), detail::bytes(data), data.size(), options.flags, options.ttl_ms,
                                        options.acl ? options.acl->native() : nullptr, detail::timeout_ms(timeout),
                                        detail::native(c), &out, &result.stat, &err),
                      err);
        result.path = detail::take_string(out);
        return result;
    }
    // The node's data and stat; std::nullopt when it does not exist.
    std::optional<node> get(std::string_view path, milliseconds timeout, const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        zku_buf *data = nullptr;
        node result{};
        zku_error *err = nullptr;
        zku_rc rc = zku_client_get(h_.get(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &data, &result.stat, &err);
        if (rc == ZKU_ENONODE) {
            zku_error_free(err);
            return std::nullopt;
        }
        detail::check(rc, err);
        result.data = detail::take_buf(data);
        return result;
    }
    // Sets the data if the version matches (ZKU_ANY_VERSION: any).
    zkutil::stat set(std::string_view path, std::string_view data, int32_t expected_version, milliseconds timeout,
                     const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(zku_client_set(h_.get(), p.c_str(), detail::bytes(data), data.size(), expected_version, detail::timeout_ms(timeout),
                                     detail::native(c), &result, &err),
                      err);
        return result;
    }
    void remove(std::string_view path, int32_t expected_version, milliseconds timeout, const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        zku_error *err = nullptr;
        detail::check(zku_client_delete(h_.get(), p.c_str(), expected_version, detail::timeout_ms(timeout), detail::native(c), &err),
                      err);
    }
    // The node's stat; std::nullopt when it does not exist.
    std::optional<zkutil::stat> exists(std::string_view path, milliseconds timeout, const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        bool found = false;
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(zku_client_exists(h_.get(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &found, &result, &err), err);
        if (!found) return std::nullopt;
        return result;
    }
    std::vector<std::string> children(std::string_view path, milliseconds timeout, const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        zku_strings *list = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_client_children(h_.get(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &list, nullptr, &err),
                      err);
        return detail::take_strings(list);
    }
    acl_list get_acl(std::string_view path, milliseconds timeout, const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        zku_acl_list *list = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_client_get_acl(h_.get(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &list, nullptr, &err),
                      err);
        return acl_list(list);
    }
    zkutil::stat set_acl(std::string_view path, const acl_list &acl, int32_t expected_aversion, milliseconds timeout,
                         const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(zku_client_set_acl(h_.get(), p.c_str(), acl.native(), expected_aversion, detail::timeout_ms(timeout),
                                         detail::native(c), &result, &err),
                      err);
        return result;
    }
    // JSON text in and out, checked by the library (ZKU_EJSON).
    std::optional<node> get_json(std::string_view path, milliseconds timeout, const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        char *json = nullptr;
        node result{};
        zku_error *err = nullptr;
        zku_rc rc = zku_client_get_json(h_.get(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &json, &result.stat, &err);
        if (rc == ZKU_ENONODE) {
            zku_error_free(err);
            return std::nullopt;
        }
        detail::check(rc, err);
        result.data = detail::take_string(json);
        return result;
    }
    zkutil::stat set_json(std::string_view path, std::string_view json, int32_t expected_version, milliseconds timeout,
                          const cancel *c = nullptr) const {
        auto p = detail::c_str(path, "path");
        auto j = detail::c_str(json, "json");
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(zku_client_set_json(h_.get(), p.c_str(), j.c_str(), expected_version, detail::timeout_ms(timeout),
                                          detail::native(c), &result, &err),
                      err);
        return result;
    }

    const zku_client *native() const noexcept { return h_.get(); }

private:
    explicit client(zku_client *raw) : h_(raw) {}
    detail::handle<zku_client, zku_client_free> h_;
};

// ---- waits -----------------------------------------------------------------

// Waits until the node's version is above `version` (-1: until it exists)
// and returns it (zku_get_next; flags 0 or ZKU_WAIT_CREATE).
inline node get_next(const client &cl, std::string_view path, int32_t version, uint32_t flags, milliseconds timeout,
                     const cancel *c = nullptr) {
    auto p = detail::c_str(path, "path");
    zku_buf *data = nullptr;
    node result{};
    zku_error *err = nullptr;
    detail::check(zku_get_next(cl.native(), p.c_str(), version, flags, detail::timeout_ms(timeout), detail::native(c), &data,
                               &result.stat, &err),
                  err);
    result.data = detail::take_buf(data);
    return result;
}

// Waits until no node exists at `path`.
inline void wait_absent(const client &cl, std::string_view path, milliseconds timeout, const cancel *c = nullptr) {
    auto p = detail::c_str(path, "path");
    zku_error *err = nullptr;
    detail::check(zku_wait_absent(cl.native(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &err), err);
}

// ---- operations (event loops) ------------------------------------------------

// A call started without blocking (zku_op, from lock::acquire_start,
// get_next_start, wait_absent_start): poll fd() until readable, then read
// the outcome, which throws zkutil::error as the blocking call would
// (ZKU_EINPROGRESS while it runs). Move-only; destroying it cancels a
// running call and waits for it to stop (zku_op_free). Thread-safe.
class op {
public:
    op() = default;
    explicit op(zku_op *raw) : h_(raw) {}

    // Readable once the call is done, until the op is destroyed.
    int fd() const {
        int fd = -1;
        zku_error *err = nullptr;
        detail::check(zku_op_fd(h_.get(), &fd, &err), err);
        return fd;
    }
    // Whether the call is done (never blocks).
    bool done() const {
        zku_error *err = nullptr;
        zku_rc rc = zku_op_result(h_.get(), nullptr, nullptr, nullptr, &err);
        zku_error_free(err);
        return rc != ZKU_EINPROGRESS;
    }
    // Ends a running call with ZKU_ECANCELLED.
    void cancel() const noexcept { zku_op_cancel(h_.get()); }
    // Throws the call's error, if any (wait_absent_start).
    void result() const {
        zku_error *err = nullptr;
        detail::check(zku_op_result(h_.get(), nullptr, nullptr, nullptr, &err), err);
    }
    // An acquire's fencing token.
    int64_t token() const {
        int64_t token = 0;
        zku_error *err = nullptr;
        detail::check(zku_op_result(h_.get(), &token, nullptr, nullptr, &err), err);
        return token;
    }
    // get_next_start's node.
    node next() const {
        zku_buf *data = nullptr;
        node result{};
        zku_error *err = nullptr;
        detail::check(zku_op_result(h_.get(), nullptr, &data, &result.stat, &err), err);
        result.data = detail::take_buf(data);
        return result;
    }

    const zku_op *native() const noexcept { return h_.get(); }

private:
    detail::handle<zku_op, zku_op_free> h_;
};

// get_next without blocking (zku_get_next_start).
inline op get_next_start(const client &cl, std::string_view path, int32_t version, uint32_t flags, milliseconds timeout) {
    auto p = detail::c_str(path, "path");
    zku_op *raw = nullptr;
    zku_error *err = nullptr;
    detail::check(zku_get_next_start(cl.native(), p.c_str(), version, flags, detail::timeout_ms(timeout), &raw, &err), err);
    return op(raw);
}

// wait_absent without blocking (zku_wait_absent_start).
inline op wait_absent_start(const client &cl, std::string_view path, milliseconds timeout) {
    auto p = detail::c_str(path, "path");
    zku_op *raw = nullptr;
    zku_error *err = nullptr;
    detail::check(zku_wait_absent_start(cl.native(), p.c_str(), detail::timeout_ms(timeout), &raw, &err), err);
    return op(raw);
}

// ---- lock --------------------------------------------------------------------

namespace detail {

// The bodies zkutil::lock and zkutil::fifo share, each over its own C
// functions (`get`, `set`, `write`: zku_lock_* or zku_fifo_*).
using lock_state_callback = std::function<void(zku_lock_state, zku_lock_state)>;

template <typename Get, typename T>
std::optional<int64_t> token_of(Get get, const T *h) {
    int64_t token = 0;
    zku_error *err = nullptr;
    zku_rc rc = get(h, &token, &err);
    if (rc == ZKU_ENOTLOCKED) {
        zku_error_free(err);
        return std::nullopt;
    }
    check(rc, err);
    return token;
}

inline std::optional<std::string> reason_of(char *reason) {
    if (!reason) return std::nullopt;
    return take_string(reason);
}

template <typename Set, typename T>
void on_lock_state(Set set, const T *h, lock_state_callback fn) {
    register_callback(std::move(fn), [&](void *box, zku_error **err) {
        return set(h, run_callback<lock_state_callback, zku_lock_state, zku_lock_state>, box, delete_callback<lock_state_callback>,
                   err);
    });
}

template <typename Set, typename T>
void clear_lock_state(Set set, const T *h) {
    zku_error *err = nullptr;
    check(set(h, nullptr, nullptr, nullptr, &err), err);
}

template <typename Get, typename T>
int fd_of(Get get, const T *h) {
    int fd = -1;
    zku_error *err = nullptr;
    check(get(h, &fd, &err), err);
    return fd;
}

inline zku_lock_state drained(zku_lock_state state) {
    if (state < 0) throw error(state, zku_strerror(state));
    return state;
}

template <typename Write, typename T>
zkutil::stat guarded_set(Write write, const T *h, std::string_view path, std::string_view data, int32_t expected_version,
                         milliseconds timeout, const cancel *c) {
    auto p = c_str(path, "path");
    zkutil::stat result{};
    zku_error *err = nullptr;
    check(write(h, p.c_str(), bytes(data), data.size(), expected_version, timeout_ms(timeout), native(c), &result, &err), err);
    return result;
}

template <typename Write, typename T>
void guarded_remove(Write write, const T *h, std::string_view path, int32_t expected_version, milliseconds timeout, const cancel *c) {
    auto p = c_str(path, "path");
    zku_error *err = nullptr;
    check(write(h, p.c_str(), expected_version, timeout_ms(timeout), native(c), &err), err);
}

} // namespace detail

struct try_acquire_result {
    bool locked;
    std::string holder; // the holder's node data (ours when locked)
    int32_t version;
    int64_t token; // fencing token when locked, else 0
};

struct try_release_result {
    bool released;      // our node is gone (or there was none)
    std::string holder; // the node data read
    int32_t version;    // -1 when there was no node
};

struct holder_info {
    std::string id;
    std::string data;
    zkutil::stat stat;
};

struct lock_value {
    std::string json;
    int32_t version;
};

// A distributed lock (zku_lock) on lock_dir + name. Thread-safe.
class lock {
public:
    // For a call's timeout: the handle's default.
    static constexpr milliseconds default_timeout{ZKU_LOCK_DEFAULT_TIMEOUT};

    // identifier nullopt: a new unique one. flags: 0 or ZKU_LOCK_PERSISTENT.
    lock(const client &cl, std::string_view name, std::optional<std::string_view> identifier = std::nullopt, uint32_t flags = 0,
         milliseconds default_call_timeout = default_timeout) {
        auto n = detail::c_str(name, "name");
        auto id = detail::opt_arg(identifier, "identifier");
        zku_lock *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_lock_new(cl.native(), n.c_str(), detail::opt_c_str(id), flags, detail::timeout_ms(default_call_timeout), &raw,
                                   &err),
                      err);
        h_ = detail::handle<zku_lock, zku_lock_free>(raw);
    }
    using state_callback = detail::lock_state_callback;

    // A lock with its own client, connected from `cfg` and closed with the
    // lock. on_state (required, as nobody else watches that session) gets
    // every state change, as with on_state().
    static lock with_config(const config &cfg, std::string_view name, state_callback on_state,
                            std::optional<std::string_view> identifier = std::nullopt, uint32_t flags = 0,
                            milliseconds default_call_timeout = default_timeout, const cancel *c = nullptr) {
        auto n = detail::c_str(name, "name");
        auto id = detail::opt_arg(identifier, "identifier");
        auto timeout = detail::timeout_ms(default_call_timeout);
        zku_lock *raw = nullptr;
        if (!on_state) throw error(ZKU_EINVAL, "on_state is required for a lock with its own client");
        detail::register_callback(std::move(on_state), [&](void *box, zku_error **err) {
            return zku_lock_new_with_config(cfg.native(), n.c_str(), detail::opt_c_str(id), flags, timeout,
                                            detail::run_callback<state_callback, zku_lock_state, zku_lock_state>, box,
                                            detail::delete_callback<state_callback>, detail::native(c), &raw, err);
        });
        lock made;
        made.h_ = detail::handle<zku_lock, zku_lock_free>(raw);
        return made;
    }
    lock() = default;

    // Waits for the lock; returns the fencing token.
    int64_t acquire(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        int64_t token = 0;
        zku_error *err = nullptr;
        detail::check(zku_lock_acquire(h_.get(), detail::timeout_ms(timeout), detail::native(c), &token, &err), err);
        return token;
    }
    // As acquire, calling on_holder(holder_data, version) on this thread
    // when the holder's node changes; return false to stop (ZKU_EABORTED).
    // What on_holder throws is rethrown here once the C call returned.
    int64_t acquire_loop(std::function<bool(std::string_view, int32_t)> on_holder, milliseconds timeout = default_timeout,
                         const cancel *c = nullptr) const {
        struct context {
            std::function<bool(std::string_view, int32_t)> &fn;
            std::exception_ptr thrown;
        } ctx{on_holder, nullptr};
        auto tramp = [](void *user_data, const char *holder, size_t len, int32_t version) noexcept -> int {
            auto *cx = static_cast<context *>(user_data);
            try {
                return cx->fn(std::string_view(holder, len), version) ? 0 : 1;
            } catch (...) {
                cx->thrown = std::current_exception();
                return 1;
            }
        };
        int64_t token = 0;
        zku_error *err = nullptr;
        zku_rc rc = zku_lock_acquire_loop(h_.get(), detail::timeout_ms(timeout), detail::native(c), tramp, &ctx, &token, &err);
        if (ctx.thrown) {
            zku_error_free(err);
            std::rethrow_exception(ctx.thrown);
        }
        detail::check(rc, err);
        return token;
    }
    // acquire without blocking (zku_lock_acquire_start): op::token() then.
    op acquire_start(milliseconds timeout = default_timeout) const {
        zku_op *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_lock_acquire_start(h_.get(), detail::timeout_ms(timeout), &raw, &err), err);
        return op(raw);
    }
    try_acquire_result try_acquire(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        try_acquire_result result{};
        zku_buf *holder = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_lock_try_acquire(h_.get(), detail::timeout_ms(timeout), detail::native(c), &result.locked, &holder,
                                           &result.version, &result.token, &err),
                      err);
        result.holder = detail::take_buf(holder);
        return result;
    }
    void release(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        zku_error *err = nullptr;
        detail::check(zku_lock_release(h_.get(), detail::timeout_ms(timeout), detail::native(c), &err), err);
    }
    // Deletes the lock node only if it holds our identifier.
    try_release_result try_release(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        try_release_result result{};
        zku_buf *holder = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_lock_try_release(h_.get(), detail::timeout_ms(timeout), detail::native(c), &result.released, &holder,
                                           &result.version, &err),
                      err);
        result.holder = detail::take_buf(holder);
        return result;
    }
    // Stops an acquire blocked in another thread.
    void cancel_acquire() const noexcept { zku_lock_cancel(h_.get()); }
    zku_lock_state state() const noexcept { return zku_lock_get_state(h_.get()); }
    bool is_locked() const noexcept { return zku_lock_is_locked(h_.get()); }
    // The fencing token of the current acquisition; nullopt when unlocked.
    std::optional<int64_t> token() const { return detail::token_of(zku_lock_token, h_.get()); }
    // Why the lock was lost; nullopt when it was not.
    std::optional<std::string> lost_reason() const { return detail::reason_of(zku_lock_lost_reason(h_.get())); }
    std::string identifier() const { return h_ ? zku_lock_identifier(h_.get()) : ""; }
    std::string path() const { return h_ ? zku_lock_path(h_.get()) : ""; }

    // fn(old_state, new_state) on a library thread (see zku_lock_state_fn).
    void on_state(state_callback fn) const { detail::on_lock_state(zku_lock_set_state_callback, h_.get(), std::move(fn)); }
    void clear_on_state() const { detail::clear_lock_state(zku_lock_set_state_callback, h_.get()); }
    // A descriptor readable on state changes (owned by the lock).
    int fd() const { return detail::fd_of(zku_lock_fd, h_.get()); }
    zku_lock_state fd_drain() const { return detail::drained(zku_lock_fd_drain(h_.get())); }
    void set_watch_delay(milliseconds delay) const {
        zku_error *err = nullptr;
        detail::check(zku_lock_set_watch_delay(h_.get(), detail::timeout_ms(delay), &err), err);
    }
    // The lock node's "val" (JSON text); returns the new node version.
    int32_t set_val(std::string_view val_json, int32_t expected_version = ZKU_ANY_VERSION, milliseconds timeout = default_timeout,
                    const cancel *c = nullptr) const {
        auto v = detail::c_str(val_json, "val_json");
        int32_t version = 0;
        zku_error *err = nullptr;
        detail::check(zku_lock_set_val(h_.get(), v.c_str(), expected_version, detail::timeout_ms(timeout), detail::native(c), &version,
                                       &err),
                      err);
        return version;
    }
    lock_value get_val(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        char *json = nullptr;
        lock_value result{};
        zku_error *err = nullptr;
        detail::check(zku_lock_get_val(h_.get(), detail::timeout_ms(timeout), detail::native(c), &json, &result.version, &err), err);
        result.json = detail::take_string(json);
        return result;
    }
    // Who holds the lock; nullopt when nobody does.
    std::optional<holder_info> holder(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        char *id = nullptr;
        zku_buf *data = nullptr;
        holder_info result{};
        zku_error *err = nullptr;
        zku_rc rc = zku_lock_holder(h_.get(), detail::timeout_ms(timeout), detail::native(c), &id, &data, &result.stat, &err);
        if (rc == ZKU_ENONODE) {
            zku_error_free(err);
            return std::nullopt;
        }
        detail::check(rc, err);
        result.id = detail::take_string(id);
        result.data = detail::take_buf(data);
        return result;
    }
    // Writes `path` only while this handle holds the lock (fenced).
    zkutil::stat guarded_set(std::string_view path, std::string_view data, int32_t expected_version = ZKU_ANY_VERSION,
                             milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        return detail::guarded_set(zku_lock_guarded_set, h_.get(), path, data, expected_version, timeout, c);
    }
    void guarded_remove(std::string_view path, int32_t expected_version = ZKU_ANY_VERSION, milliseconds timeout = default_timeout,
                        const cancel *c = nullptr) const {
        detail::guarded_remove(zku_lock_guarded_delete, h_.get(), path, expected_version, timeout, c);
    }

    const zku_lock *native() const noexcept { return h_.get(); }

private:
    detail::handle<zku_lock, zku_lock_free> h_;
};

// ---- fifo (sequential locks, Curator layouts) -------------------------------

// One contender of a fifo: its node name and its data (identifier).
struct contender {
    std::string name;
    std::string id;
};

// A sequential lock (zku_fifo) on lock_dir + name: the FIFO mutex, a
// leader-election participant or one side of a read-write lock, made by
// the factory that names it. Thread-safe.
class fifo {
public:
    static constexpr milliseconds default_timeout{ZKU_LOCK_DEFAULT_TIMEOUT};
    using state_callback = detail::lock_state_callback;

    // identifier nullopt: a new unique one.
    static fifo mutex(const client &cl, std::string_view name, std::optional<std::string_view> identifier = std::nullopt,
                      milliseconds default_call_timeout = default_timeout) {
        return make(zku_fifo_new, cl, name, identifier, default_call_timeout);
    }
    static fifo leader(const client &cl, std::string_view name, std::optional<std::string_view> identifier = std::nullopt,
                       milliseconds default_call_timeout = default_timeout) {
        return make(zku_fifo_new_leader, cl, name, identifier, default_call_timeout);
    }
    static fifo read(const client &cl, std::string_view name, std::optional<std::string_view> identifier = std::nullopt,
                     milliseconds default_call_timeout = default_timeout) {
        return make(zku_fifo_new_read, cl, name, identifier, default_call_timeout);
    }
    static fifo write(const client &cl, std::string_view name, std::optional<std::string_view> identifier = std::nullopt,
                      milliseconds default_call_timeout = default_timeout) {
        return make(zku_fifo_new_write, cl, name, identifier, default_call_timeout);
    }
    // The read side of the write side `w` (Curator's rule: granted at once
    // while `w` holds; releasing `w` then downgrades). identifier nullopt:
    // w's.
    static fifo read_of(const fifo &w, std::optional<std::string_view> identifier = std::nullopt,
                        milliseconds default_call_timeout = default_timeout) {
        auto id = detail::opt_arg(identifier, "identifier");
        zku_fifo *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_fifo_new_read_of(w.h_.get(), detail::opt_c_str(id), detail::timeout_ms(default_call_timeout), &raw, &err),
                      err);
        fifo made;
        made.h_ = detail::handle<zku_fifo, zku_fifo_free>(raw);
        return made;
    }
    fifo() = default;

    // Waits for our turn; returns the fencing token.
    int64_t acquire(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        int64_t token = 0;
        zku_error *err = nullptr;
        detail::check(zku_fifo_acquire(h_.get(), detail::timeout_ms(timeout), detail::native(c), &token, &err), err);
        return token;
    }
    // acquire without blocking (zku_fifo_acquire_start; for a leader, a
    // start that does not wait to lead): op::token() then.
    op acquire_start(milliseconds timeout = default_timeout) const {
        zku_op *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_fifo_acquire_start(h_.get(), detail::timeout_ms(timeout), &raw, &err), err);
        return op(raw);
    }
    // The token if held now, nullopt when another contender is ahead.
    std::optional<int64_t> try_acquire(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        bool locked = false;
        int64_t token = 0;
        zku_error *err = nullptr;
        detail::check(zku_fifo_try_acquire(h_.get(), detail::timeout_ms(timeout), detail::native(c), &locked, &token, &err), err);
        if (!locked) return std::nullopt;
        return token;
    }
    // Stops the acquires running on this handle in other threads
    // (zku_fifo_cancel); later ones are not affected.
    void cancel_acquire() const noexcept { zku_fifo_cancel(h_.get()); }
    void release(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        zku_error *err = nullptr;
        detail::check(zku_fifo_release(h_.get(), detail::timeout_ms(timeout), detail::native(c), &err), err);
    }
    // The contenders in line, the holder first.
    std::vector<contender> contenders(milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        zku_strings *names = nullptr;
        zku_strings *ids = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_fifo_contenders(h_.get(), detail::timeout_ms(timeout), detail::native(c), &names, &ids, &err), err);
        auto n = detail::take_strings(names);
        auto i = detail::take_strings(ids);
        std::vector<contender> result;
        for (size_t k = 0; k < n.size(); k++) result.push_back({n[k], i[k]});
        return result;
    }
    zku_lock_state state() const noexcept { return zku_fifo_get_state(h_.get()); }
    // The fencing token of the current acquisition; nullopt when unlocked.
    std::optional<int64_t> token() const { return detail::token_of(zku_fifo_token, h_.get()); }
    // Why the lock was lost; nullopt when it was not.
    std::optional<std::string> lost_reason() const { return detail::reason_of(zku_fifo_lost_reason(h_.get())); }
    std::string path() const { return h_ ? zku_fifo_path(h_.get()) : ""; }
    // fn(old_state, new_state) on a library thread (see zku_lock_state_fn).
    void on_state(state_callback fn) const { detail::on_lock_state(zku_fifo_set_state_callback, h_.get(), std::move(fn)); }
    void clear_on_state() const { detail::clear_lock_state(zku_fifo_set_state_callback, h_.get()); }
    // A descriptor readable on state changes (owned by the handle).
    int fd() const { return detail::fd_of(zku_fifo_fd, h_.get()); }
    zku_lock_state fd_drain() const { return detail::drained(zku_fifo_fd_drain(h_.get())); }
    // Writes `path` only while this handle holds the lock (fenced).
    zkutil::stat guarded_set(std::string_view path, std::string_view data, int32_t expected_version = ZKU_ANY_VERSION,
                             milliseconds timeout = default_timeout, const cancel *c = nullptr) const {
        return detail::guarded_set(zku_fifo_guarded_set, h_.get(), path, data, expected_version, timeout, c);
    }
    void guarded_remove(std::string_view path, int32_t expected_version = ZKU_ANY_VERSION, milliseconds timeout = default_timeout,
                        const cancel *c = nullptr) const {
        detail::guarded_remove(zku_fifo_guarded_delete, h_.get(), path, expected_version, timeout, c);
    }

    const zku_fifo *native() const noexcept { return h_.get(); }

private:
    using constructor = zku_rc (*)(const zku_client *, const char *, const char *, int32_t, zku_fifo **, zku_error **);
    static fifo make(constructor construct, const client &cl, std::string_view name, std::optional<std::string_view> identifier,
                     milliseconds default_call_timeout) {
        auto n = detail::c_str(name, "name");
        auto id = detail::opt_arg(identifier, "identifier");
        zku_fifo *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(construct(cl.native(), n.c_str(), detail::opt_c_str(id), detail::timeout_ms(default_call_timeout), &raw, &err),
                      err);
        fifo made;
        made.h_ = detail::handle<zku_fifo, zku_fifo_free>(raw);
        return made;
    }

    detail::handle<zku_fifo, zku_fifo_free> h_;
};

// A new lock identifier for this process (node_id nullopt: the default).
inline std::string lock_id(std::optional<std::string_view> node_id = std::nullopt) {
    auto n = detail::opt_arg(node_id, "node_id");
    char *out = nullptr;
    zku_error *err = nullptr;
    detail::check(zku_lock_id(detail::opt_c_str(n), &out, &err), err);
    return detail::take_string(out);
}

// ---- reader ----------------------------------------------------------------

// One reader event (ZKU_READER_EVENT_*), as zku_reader_fn gives it.
struct reader_event {
    int32_t kind;
    std::string_view path;
    std::string_view old_json;
    std::string_view new_json;
    const zkutil::stat *stat; // may be null
};

struct json_value {
    std::string json;
    zkutil::stat stat;
};

struct json_change {
    std::string old_json;
    std::string new_json;
    zkutil::stat stat;
};

// A cached reader of a node holding a JSON object (zku_reader).
class reader {
public:
    using callback = std::function<void(const reader_event &)>;

    // Reads the node and follows it; on_event (may be empty) gets the
    // events on a library thread (views valid during the call only).
    reader(const client &cl, std::string_view path, callback on_event, milliseconds timeout, const cancel *c = nullptr) {
        auto p = detail::c_str(path, "path");
        zku_reader *raw = nullptr;
        if (!on_event) {
            zku_error *err = nullptr;
            detail::check(
                zku_reader_new(cl.native(), p.c_str(), nullptr, nullptr, nullptr, detail::timeout_ms(timeout), detail::native(c), &raw, &err),
                err);
        } else {
            detail::register_callback(std::move(on_event), [&](void *box, zku_error **err) {
                return zku_reader_new(cl.native(), p.c_str(), deliver, box, detail::delete_callback<callback>, detail::timeout_ms(timeout),
                                      detail::native(c), &raw, err);
            });
        }
        h_ = detail::handle<zku_reader, zku_reader_free>(raw);
    }
    reader() = default;

    json_value get() const {
        char *json = nullptr;
        json_value result{};
        zku_error *err = nullptr;
        detail::check(zku_reader_get(h_.get(), &json, &result.stat, &err), err);
        result.json = detail::take_string(json);
        return result;
    }
    // A member by JSON Pointer ("/a/b") as JSON text; nullopt if absent.
    std::optional<std::string> get_pointer(std::string_view pointer) const {
        auto p = detail::c_str(pointer, "pointer");
        char *json = nullptr;
        zku_error *err = nullptr;
        zku_rc rc = zku_reader_get_pointer(h_.get(), p.c_str(), &json, &err);
        if (rc == ZKU_ENOMEMBER) {
            zku_error_free(err);
            return std::nullopt;
        }
        detail::check(rc, err);
        return detail::take_string(json);
    }
    // Waits for the next change (see zku_reader_watch).
    json_change watch(milliseconds timeout, const cancel *c = nullptr) const {
        char *old_json = nullptr;
        char *new_json = nullptr;
        json_change result{};
        zku_error *err = nullptr;
        detail::check(zku_reader_watch(h_.get(), detail::timeout_ms(timeout), detail::native(c), &old_json, &new_json, &result.stat, &err),
                      err);
        result.old_json = detail::take_string(old_json);
        result.new_json = detail::take_string(new_json);
        return result;
    }
    int32_t state() const noexcept { return zku_reader_state(h_.get()); }
    void close() const noexcept { zku_reader_close(h_.get()); }
    // A descriptor readable on every reader event (owned by the reader; see
    // zku_reader_fd), and the reader state it was drained at; then get(),
    // or watch(0ms) for the change.
    int fd() const {
        int fd = -1;
        zku_error *err = nullptr;
        detail::check(zku_reader_fd(h_.get(), &fd, &err), err);
        return fd;
    }
    int32_t fd_drain() const {
        int32_t state = zku_reader_fd_drain(h_.get());
        if (state < 0) throw error(state, zku_strerror(state));
        return state;
    }

    const zku_reader *native() const noexcept { return h_.get(); }

private:
    static void deliver(void *user_data, int32_t kind, const char *path, const char *old_json, const char *new_json,
                        const zku_stat *st) noexcept {
        auto view = [](const char *s) { return s ? std::string_view(s) : std::string_view(); };
        reader_event event{kind, view(path), view(old_json), view(new_json), st};
        detail::run_callback<callback, const reader_event &>(user_data, event);
    }
    detail::handle<zku_reader, zku_reader_free> h_;
};

// ---- compare-and-swap ------------------------------------------------------

// What the cas_update function returns: the value to write, or nullopt to
// stop without writing.
using cas_fn = std::function<std::optional<std::string>(std::string_view value, const zkutil::stat *stat)>;

struct cas_options {
    uint32_t flags = 0;         // ZKU_CAS_* bits
    std::string_view initial;   // the value of a missing node (ZKU_CAS_CREATE)
    uint32_t max_attempts = 0;  // 0: no limit but the timeout
};

struct cas_result {
    zkutil::stat stat; // after the write (version -1: no node)
    uint32_t attempts;
};

// The read-modify-write loop (zku_cas_update): fn gets the current value
// (stat nullptr while the node does not exist) and returns the new one.
// What fn throws ends the loop without writing and is rethrown here.
inline cas_result cas_update(const client &cl, std::string_view path, const cas_fn &fn, const cas_options &options,
                             milliseconds timeout, const cancel *c = nullptr) {
    auto p = detail::c_str(path, "path");
    struct context {
        const cas_fn &fn;
        std::exception_ptr thrown;
    } ctx{fn, nullptr};
    auto tramp = [](void *user_data, const uint8_t *value, size_t len, const zku_stat *st, zku_cas_next *next) noexcept -> int32_t {
        auto *cx = static_cast<context *>(user_data);
        try {
            std::optional<std::string> out = cx->fn(std::string_view(reinterpret_cast<const char *>(value), len), st);
            if (!out) return ZKU_CAS_SKIP;
            zku_error *err = nullptr;
            detail::check(zku_cas_next_set(next, detail::bytes(*out), out->size(), &err), err);
            return ZKU_CAS_WRITE;
        } catch (...) {
            cx->thrown = std::current_exception();
            return -1;
        }
    };
    cas_result result{};
    zku_error *err = nullptr;
    zku_rc rc = zku_cas_update(cl.native(), p.c_str(), options.flags, detail::bytes(options.initial), options.initial.size(), tramp,
                               &ctx, options.max_attempts, detail::timeout_ms(timeout), detail::native(c), &result.stat,
                               &result.attempts, &err);
    if (ctx.thrown) {
        zku_error_free(err);
        std::rethrow_exception(ctx.thrown);
    }
    detail::check(rc, err);
    return result;
}

// A compare-and-swap handle (zku_cas): the last read and the version the
// next commit expects. Use from one thread at a time.
class cas {
public:
    static cas begin(const client &cl, std::string_view path, const cas_options &options, milliseconds timeout,
                     const cancel *c = nullptr) {
        auto p = detail::c_str(path, "path");
        zku_cas *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_cas_begin(cl.native(), p.c_str(), options.flags, detail::bytes(options.initial), options.initial.size(),
                                    detail::timeout_ms(timeout), detail::native(c), &raw, &err),
                      err);
        return cas(raw);
    }
    cas() = default;

    // The value read last (bytes; JSON text in JSON mode).
    std::string value() const {
        const uint8_t *data = nullptr;
        size_t len = 0;
        zku_error *err = nullptr;
        detail::check(zku_cas_value(h_.get(), &data, &len, &err), err);
        return std::string(reinterpret_cast<const char *>(data), len);
    }
    zkutil::stat stat() const {
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(zku_cas_stat(h_.get(), &result, &err), err);
        return result;
    }
    int32_t version() const noexcept { return zku_cas_version(h_.get()); }
    uint32_t attempts() const noexcept { return zku_cas_attempts(h_.get()); }
    // Writes `data` if the node is unchanged since the read
    // (ZKU_EBADVERSION otherwise: reread and try again).
    zkutil::stat commit(std::string_view data, milliseconds timeout, const cancel *c = nullptr) {
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(
            zku_cas_commit(h_.get(), detail::bytes(data), data.size(), detail::timeout_ms(timeout), detail::native(c), &result, &err), err);
        return result;
    }
    void reread(milliseconds timeout, const cancel *c = nullptr) {
        zku_error *err = nullptr;
        detail::check(zku_cas_reread(h_.get(), detail::timeout_ms(timeout), detail::native(c), &err), err);
    }
    // Finds out whether a commit whose outcome is unknown was applied.
    zkutil::stat resolve(milliseconds timeout, const cancel *c = nullptr) {
        zkutil::stat result{};
        zku_error *err = nullptr;
        detail::check(zku_cas_resolve(h_.get(), detail::timeout_ms(timeout), detail::native(c), &result, &err), err);
        return result;
    }

    const zku_cas *native() const noexcept { return h_.get(); }

private:
    explicit cas(zku_cas *raw) : h_(raw) {}
    detail::handle<zku_cas, zku_cas_free> h_;
};

// ---- registration nodes --------------------------------------------------------

// How a registration node is made (zku_registration_new).
struct registration_options {
    // ZKU_REGISTRATION_PERSISTENT, ZKU_REGISTRATION_SEQUENTIAL (0: ephemeral).
    uint32_t flags = 0;
    // With ZKU_REGISTRATION_PERSISTENT: the server deletes the node after
    // this long without changes (needs extended types); 0: none.
    milliseconds ttl{0};
};

// A node kept present for as long as this handle lives (zku_registration):
// created again after a delete or in a new session, never overwriting a
// node it did not create; freeing it deletes the node if still ours.
// Thread-safe. Does not survive fork().
class registration {
public:
    using state_callback = std::function<void(zku_registration_state, zku_registration_state)>;

    // Waits up to `timeout` for the node's first creation (see
    // zku_registration_new): PRESENT, or ABSENT when the time ran out or
    // another session's node is at the path.
    registration(const client &cl, std::string_view path, std::string_view data, const registration_options &options,
                 milliseconds timeout, const cancel *c = nullptr) {
        auto p = detail::c_str(path, "path");
        zku_registration *raw = nullptr;
        zku_error *err = nullptr;
        detail::check(zku_registration_new(cl.native(), p.c_str(), detail::bytes(data), data.size(), options.flags,
                                           options.ttl.count(), detail::timeout_ms(timeout), detail::native(c), &raw, &err),
                      err);
        h_ = detail::handle<zku_registration, zku_registration_free>(raw);
    }
    registration() = default;

    zku_registration_state state() const noexcept { return zku_registration_get_state(h_.get()); }
    // The node's path (a sequential node's current name); nullopt for a
    // sequential node not created yet.
    std::optional<std::string> path() const {
        char *out = nullptr;
        zku_error *err = nullptr;
        zku_rc rc = zku_registration_path(h_.get(), &out, &err);
        if (rc == ZKU_ENONODE) {
            zku_error_free(err);
            return std::nullopt;
        }
        detail::check(rc, err);
        return detail::take_string(out);
    }
    // Why the node is absent (nullopt unless ABSENT).
    std::optional<std::string> absent_reason() const {
        char *why = zku_registration_absent_reason(h_.get());
        if (!why) return std::nullopt;
        return detail::take_string(why);
    }
    void set_data(std::string_view data, milliseconds timeout, const cancel *c = nullptr) const {
        zku_error *err = nullptr;
        detail::check(zku_registration_set_data(h_.get(), detail::bytes(data), data.size(), detail::timeout_ms(timeout),
                                                detail::native(c), &err),
                      err);
    }
    // fn(old_state, new_state) on a library thread (see zku_registration_state_fn).
    void on_state(state_callback fn) const {
        detail::register_callback(std::move(fn), [&](void *box, zku_error **err) {
            return zku_registration_set_state_callback(
                h_.get(), detail::run_callback<state_callback, zku_registration_state, zku_registration_state>, box,
                detail::delete_callback<state_callback>, err);
        });
    }
    void clear_on_state() const {
        zku_error *err = nullptr;
        detail::check(zku_registration_set_state_callback(h_.get(), nullptr, nullptr, nullptr, &err), err);
    }
    // A descriptor readable on state changes (owned by the handle).
    int fd() const {
        int fd = -1;
        zku_error *err = nullptr;
        detail::check(zku_registration_fd(h_.get(), &fd, &err), err);
        return fd;
    }
    zku_registration_state fd_drain() const {
        zku_registration_state state = zku_registration_fd_drain(h_.get());
        if (state < 0) throw error(state, zku_strerror(state));
        return state;
    }
    // Deletes the node if still ours and stops keeping it (CLOSED).
    void close(milliseconds timeout, const cancel *c = nullptr) const {
        zku_error *err = nullptr;
        detail::check(zku_registration_close(h_.get(), detail::timeout_ms(timeout), detail::native(c), &err), err);
    }

    const zku_registration *native() const noexcept { return h_.get(); }

private:
    detail::handle<zku_registration, zku_registration_free> h_;
};

// One child of a parent node: its name and data.
struct member {
    std::string name;
    std::string data;
};

// The children of `parent` with their data, sorted by name (zku_members_list).
inline std::vector<member> members(const client &cl, std::string_view parent, milliseconds timeout, const cancel *c = nullptr) {
    auto p = detail::c_str(parent, "parent");
    zku_members *list = nullptr;
    zku_error *err = nullptr;
    detail::check(zku_members_list(cl.native(), p.c_str(), detail::timeout_ms(timeout), detail::native(c), &list, &err), err);
    std::vector<member> out;
    for (size_t i = 0; i < zku_members_len(list); i++) {
        size_t len = 0;
        const uint8_t *data = zku_members_data(list, i, &len);
        out.push_back({zku_members_name(list, i), std::string(reinterpret_cast<const char *>(data), len)});
    }
    zku_members_free(list);
    return out;
}

// ---- trees and digests -------------------------------------------------------

// The subtree at `path` as a JSON document (zku_export_hierarchy; flags
// ZKU_EXPORT_*, users_json {"user": "password"} or nullopt).
inline std::string export_hierarchy(const client &cl, std::string_view path, std::optional<std::string_view> users_json, uint32_t flags,
                                    milliseconds timeout, const cancel *c = nullptr) {
    auto p = detail::c_str(path, "path");
    auto u = detail::opt_arg(users_json, "users_json");
    char *out = nullptr;
    zku_error *err = nullptr;
    detail::check(zku_export_hierarchy(cl.native(), p.c_str(), detail::opt_c_str(u), flags, detail::timeout_ms(timeout), detail::native(c),
                                       &out, &err),
                  err);
    return detail::take_string(out);
}

// Creates (or updates) the tree described by `hierarchy_json` under
// `root` (zku_import_hierarchy; flags 0 or ZKU_IMPORT_UPDATE_VALUES).
inline zku_import_stats import_hierarchy(const client &cl, std::string_view root, std::string_view hierarchy_json,
                                         std::optional<std::string_view> users_json, uint32_t flags, milliseconds timeout,
                                         const cancel *c = nullptr) {
    auto r = detail::c_str(root, "root");
    auto h = detail::c_str(hierarchy_json, "hierarchy_json");
    auto u = detail::opt_arg(users_json, "users_json");
    zku_import_stats stats{};
    zku_error *err = nullptr;
    detail::check(zku_import_hierarchy(cl.native(), r.c_str(), h.c_str(), detail::opt_c_str(u), flags, detail::timeout_ms(timeout),
                                       detail::native(c), &stats, &err),
                  err);
    return stats;
}

// "user:password" -> "user:<base64 sha1>" (zku_make_digest).
inline std::string make_digest(std::string_view account) {
    auto a = detail::c_str(account, "account");
    char *out = nullptr;
    zku_error *err = nullptr;
    detail::check(zku_make_digest(a.c_str(), &out, &err), err);
    return detail::take_string(out);
}

} // namespace zkutil

#endif // ZKUTIL_HPP
