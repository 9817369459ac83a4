// One error model for the whole project (architecture principle 3): a failure is
// a value carrying a typed reason and context, never an exception across modules.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cp {

// Broad category of an error; each module adds its own typed reason (a Reason
// constant below, e.g. pass rejections use the spec's reason words "base45",
// "signature").
enum class ErrorKind {
    invalid_input,   // malformed data from outside (QR text, file, network)
    rejected,        // well-formed but refused by policy or crypto
    not_found,
    io,              // file system, device node, database
    unavailable,     // device or peer absent / not answering
    config,          // bad configuration key or value
    internal,        // a bug or an unexpected library failure
};

const char* to_string(ErrorKind kind) noexcept;

// A typed reason. Each module declares the reasons it produces once, as constants
// in its own header:
//     namespace cp::journal::reason { inline constexpr Reason corrupt{"corrupt"}; }
// and code that branches on a reason names the constant (`err.is(reason::corrupt)`),
// so a misspelt reason does not compile and each reason has exactly one spelling,
// in logs and on the wire alike. `code` is that spelling ([a-z0-9-], kebab-case).
struct Reason {
    const char* code;
    constexpr explicit Reason(const char* c) noexcept : code(c) {}
    std::string_view view() const noexcept { return code; }
    friend bool operator==(Reason a, Reason b) noexcept { return a.view() == b.view(); }
};
inline const char* to_string(Reason r) noexcept { return r.code; }

struct Error {
    ErrorKind kind = ErrorKind::internal;
    std::string reason;   // short, typed, machine-readable ("inflate", "disk-full")
    std::string message;  // human-readable detail; never holds personal data

    Error() = default;
    Error(ErrorKind k, std::string r, std::string m = {})
        : kind(k), reason(std::move(r)), message(std::move(m)) {}
    Error(ErrorKind k, Reason r, std::string m = {})
        : kind(k), reason(r.code), message(std::move(m)) {}

    // The one way to branch on a reason: compare with a module's Reason constant.
    bool is(Reason r) const noexcept { return reason == r.view(); }
    bool is(ErrorKind k, Reason r) const noexcept { return kind == k && is(r); }

    // Prefix the message with where it happened, as mender's WithContext().
    Error with_context(std::string_view where) const {
        Error e = *this;
        e.message = std::string(where) + (message.empty() ? "" : ": ") + message;
        return e;
    }
    std::string describe() const;
};

// Marker so that `return fail(...)` converts to any Result<T>.
struct Failure {
    Error error;
};
inline Failure fail(ErrorKind k, std::string reason, std::string message = {}) {
    return Failure{Error{k, std::move(reason), std::move(message)}};
}
inline Failure fail(ErrorKind k, Reason reason, std::string message = {}) {
    return Failure{Error{k, reason, std::move(message)}};
}
inline Failure fail(Error e) { return Failure{std::move(e)}; }

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
    Result(Failure f) : v_(std::in_place_index<1>, std::move(f.error)) {}  // NOLINT implicit

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { assert(ok()); return std::get<0>(v_); }
    const T& value() const& { assert(ok()); return std::get<0>(v_); }
    T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
    Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Failure f) : err_(std::move(f.error)), ok_(false) {}  // NOLINT implicit
    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const Error& error() const { assert(!ok_); return err_; }

private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace cp

// Propagate a failed Result from the enclosing function.
#define CP_TRY(expr)                                           \
    do {                                                       \
        auto&& cp_try_r_ = (expr);                             \
        if (!cp_try_r_.ok()) return ::cp::fail(cp_try_r_.error()); \
    } while (0)
