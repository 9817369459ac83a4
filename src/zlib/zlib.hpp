// zlib (RFC 1950) and gzip (RFC 1952) streams for every module: the pass's
// compression layer, the device's gzip upload bodies, the upstream's gzip
// request bodies. Inflation is bounded: the output never grows past `cap` plus
// one chunk, so a small bomb cannot take the memory.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace cp::zlib {

// Errors of this module. invalid_input: corrupt, truncated, trailing-bytes,
// too-large; internal: zlib (the library refused to start or ran out of memory).
namespace reason {
inline constexpr Reason corrupt{"zlib-corrupt"};           // not a valid stream of that wrapper
inline constexpr Reason truncated{"zlib-truncated"};       // the data ends before the stream does
inline constexpr Reason trailing_bytes{"zlib-trailing"};   // bytes after the end of the stream
inline constexpr Reason too_large{"too-large"};            // the output (or the input) is over the cap
inline constexpr Reason failed{"zlib"};                    // the library failed
}  // namespace reason

enum class Wrapper { zlib, gzip };
// Bytes after the end of the stream: an error, or ignored (a gzip body may
// carry further members, which an HTTP peer need not read).
enum class Trailing { refuse, ignore };

// Inflates one complete stream into at most `cap` bytes.
// Errors: reason::corrupt, truncated, trailing_bytes (Trailing::refuse),
// too_large (as soon as the output would exceed `cap`), failed.
Result<Bytes> inflate(ByteView compressed, Wrapper wrapper, std::size_t cap, Trailing trailing = Trailing::refuse);
Result<std::string> inflate(std::string_view compressed, Wrapper wrapper, std::size_t cap,
                            Trailing trailing = Trailing::refuse);

// One stream at `level` (0..9; 9 is the smallest). Errors: reason::failed,
// reason::too_large for input beyond what one zlib call takes.
Result<Bytes> deflate(ByteView data, Wrapper wrapper, int level);
Result<std::string> deflate(std::string_view data, Wrapper wrapper, int level);

}  // namespace cp::zlib
