// Thin, bounded layer over libcbor used inside src/pass (not a CBOR parser of its own:
// libcbor decodes; this adds the limits a verifier needs and RAII ownership).
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/pass/reason.hpp"

#include <cbor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cp::pass::cbor {

// Deepest nesting accepted (arrays, maps, tags, indefinite strings). An HC1 payload
// needs about 6; the bound keeps libcbor's recursive free and our walkers shallow.
inline constexpr std::size_t kMaxDepth = 16;

struct Decref {
    void operator()(cbor_item_t* item) const {
        if (item != nullptr) cbor_decref(&item);
    }
};
using Item = std::unique_ptr<cbor_item_t, Decref>;

// Decodes exactly one well-formed CBOR item filling all of `data`. Before handing
// the bytes to cbor_load, a streaming pass checks nesting depth, that every declared
// length fits in the remaining input (so no huge preallocation), and that nothing
// trails the item. Errors: invalid_input/"cbor".
Result<Item> decode(ByteView data);

// An integer item in its shortest encoding (libcbor keeps the width it was built with).
cbor_item_t* build_int(std::int64_t v);

// Serialises an item. Errors: internal/"cbor".
Result<Bytes> encode(const cbor_item_t* item);

// Accessors that never assert on a wrong type.
std::optional<std::int64_t> as_int(const cbor_item_t* item);  // uint or negint within int64
std::optional<Bytes> as_bytes(const cbor_item_t* item);       // definite or chunked bstr
std::optional<std::string> as_text(const cbor_item_t* item);  // definite or chunked tstr

// Map keys compared by type and value: integers and text strings (what COSE labels
// and CWT claims use). Returns nullopt for other key types.
struct Key {
    bool is_text = false;
    std::int64_t number = 0;
    std::string text;
    bool operator<(const Key& o) const {
        return is_text != o.is_text ? is_text < o.is_text : is_text ? text < o.text : number < o.number;
    }
    bool operator==(const Key& o) const {
        return is_text == o.is_text && (is_text ? text == o.text : number == o.number);
    }
};
std::optional<Key> key_of(const cbor_item_t* item);

// True when two pairs of the map have equal keys (int/text keys; other keys are
// compared by their encoded bytes).
bool has_duplicate_keys(const cbor_item_t* map);

// Looks up an int or text key in a map (first match; callers reject duplicates first).
const cbor_item_t* map_get(const cbor_item_t* map, std::int64_t key);
const cbor_item_t* map_get(const cbor_item_t* map, std::string_view key);

// Strips tags; returns the innermost item (borrowed from `item`, no new reference).
const cbor_item_t* untag(const cbor_item_t* item);

// UTF-8 validity (strict: no overlongs, no surrogates) and code point count.
bool valid_utf8(std::string_view s, std::size_t* code_points = nullptr);

// CBOR → JSON text, for the technician's view of claims: bstr as lower-case hex,
// map keys as text, tags dropped. Depth is bounded by decode().
std::string to_json(const cbor_item_t* item);

}  // namespace cp::pass::cbor
