#include "src/pass/cbor.hpp"
#include "src/pass/reason.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>
#include <vector>

namespace cp::pass::cbor {

namespace {

// ---- streaming pre-check (libcbor's streaming decoder drives it)

constexpr std::uint64_t kIndefinite = std::numeric_limits<std::uint64_t>::max();

struct Walk {
    std::vector<std::uint64_t> stack;  // items still expected by each open container
    std::size_t remaining = 0;         // input bytes not yet decoded (upper bound for lengths)
    bool error = false;
    bool root_done = false;
};

Walk* ctx(void* p) { return static_cast<Walk*>(p); }

void item_done(Walk* w) {
    while (!w->stack.empty()) {
        std::uint64_t& top = w->stack.back();
        if (top == kIndefinite) return;
        if (--top > 0) return;
        w->stack.pop_back();  // the container is complete: it counts as one item of its parent
    }
    if (w->root_done) w->error = true;  // a second top-level item
    w->root_done = true;
}

void open(Walk* w, std::uint64_t expected) {
    if (w->root_done) {
        w->error = true;
        return;
    }
    if (expected == 0) {
        item_done(w);
        return;
    }
    w->stack.push_back(expected);
    if (w->stack.size() > kMaxDepth) w->error = true;
}

void on_leaf(void* p) { item_done(ctx(p)); }
void on_u8(void* p, std::uint8_t) { on_leaf(p); }
void on_u16(void* p, std::uint16_t) { on_leaf(p); }
void on_u32(void* p, std::uint32_t) { on_leaf(p); }
void on_u64(void* p, std::uint64_t) { on_leaf(p); }
void on_string(void* p, cbor_data, std::size_t) { on_leaf(p); }
void on_float(void* p, float) { on_leaf(p); }
void on_double(void* p, double) { on_leaf(p); }
void on_bool(void* p, bool) { on_leaf(p); }
void on_indef(void* p) { open(ctx(p), kIndefinite); }
void on_array(void* p, std::size_t n) {
    Walk* w = ctx(p);
    if (n > w->remaining) w->error = true;  // each element needs at least one byte
    else open(w, n);
}
void on_map(void* p, std::size_t n) {
    Walk* w = ctx(p);
    if (n > w->remaining / 2) w->error = true;
    else open(w, 2 * static_cast<std::uint64_t>(n));
}
void on_tag(void* p, std::uint64_t) { open(ctx(p), 1); }
void on_break(void* p) {
    Walk* w = ctx(p);
    if (w->stack.empty() || w->stack.back() != kIndefinite) {
        w->error = true;
        return;
    }
    w->stack.pop_back();
    item_done(w);
}

cbor_callbacks make_callbacks() {
    cbor_callbacks cb = cbor_empty_callbacks;
    cb.uint8 = on_u8;
    cb.uint16 = on_u16;
    cb.uint32 = on_u32;
    cb.uint64 = on_u64;
    cb.negint8 = on_u8;
    cb.negint16 = on_u16;
    cb.negint32 = on_u32;
    cb.negint64 = on_u64;
    cb.byte_string_start = on_indef;
    cb.byte_string = on_string;
    cb.string_start = on_indef;
    cb.string = on_string;
    cb.indef_array_start = on_indef;
    cb.array_start = on_array;
    cb.indef_map_start = on_indef;
    cb.map_start = on_map;
    cb.tag = on_tag;
    cb.float2 = on_float;
    cb.float4 = on_float;
    cb.float8 = on_double;
    cb.undefined = on_leaf;
    cb.null = on_leaf;
    cb.boolean = on_bool;
    cb.indef_break = on_break;
    return cb;
}

Status precheck(ByteView data) {
    static const cbor_callbacks kCallbacks = make_callbacks();
    Walk w;
    std::size_t offset = 0;
    while (offset < data.size() && !w.root_done) {
        w.remaining = data.size() - offset;
        cbor_decoder_result r = cbor_stream_decode(data.data() + offset, data.size() - offset, &kCallbacks, &w);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
            return fail(ErrorKind::invalid_input, reason::cbor,
                        r.status == CBOR_DECODER_NEDATA ? "truncated CBOR" : "malformed CBOR");
        offset += r.read;
        if (w.error) return fail(ErrorKind::invalid_input, reason::cbor, "CBOR too deep or lengths beyond the input");
    }
    if (!w.root_done) return fail(ErrorKind::invalid_input, reason::cbor, "truncated CBOR");
    if (offset != data.size()) return fail(ErrorKind::invalid_input, reason::cbor, "bytes after the CBOR item");
    return {};
}

bool chunks(const cbor_item_t* item, bool text, std::string& out) {
    if (text ? cbor_string_is_definite(item) : cbor_bytestring_is_definite(item)) {
        const unsigned char* h = text ? cbor_string_handle(item) : cbor_bytestring_handle(item);
        std::size_t n = text ? cbor_string_length(item) : cbor_bytestring_length(item);
        if (n != 0 && h == nullptr) return false;
        out.append(reinterpret_cast<const char*>(h), n);
        return true;
    }
    std::size_t count = text ? cbor_string_chunk_count(item) : cbor_bytestring_chunk_count(item);
    cbor_item_t** parts = text ? cbor_string_chunks_handle(item) : cbor_bytestring_chunks_handle(item);
    for (std::size_t i = 0; i < count; ++i) {
        const cbor_item_t* c = parts[i];
        if (text ? !cbor_isa_string(c) : !cbor_isa_bytestring(c)) return false;
        if (!chunks(c, text, out)) return false;
    }
    return true;
}

nlohmann::json json_of(const cbor_item_t* item) {
    switch (cbor_typeof(item)) {
        case CBOR_TYPE_UINT: {
            std::uint64_t v = cbor_get_int(item);
            return v;
        }
        case CBOR_TYPE_NEGINT: {
            std::uint64_t v = cbor_get_int(item);
            if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                return -1.0 - static_cast<double>(v);
            return -1 - static_cast<std::int64_t>(v);
        }
        case CBOR_TYPE_BYTESTRING: {
            auto b = as_bytes(item);
            return b ? to_hex(*b) : std::string();
        }
        case CBOR_TYPE_STRING: {
            auto t = as_text(item);
            return t ? *t : std::string();
        }
        case CBOR_TYPE_ARRAY: {
            nlohmann::json a = nlohmann::json::array();
            cbor_item_t** h = cbor_array_handle(item);
            for (std::size_t i = 0; i < cbor_array_size(item); ++i) a.push_back(json_of(h[i]));
            return a;
        }
        case CBOR_TYPE_MAP: {
            nlohmann::json o = nlohmann::json::object();
            cbor_pair* h = cbor_map_handle(item);
            for (std::size_t i = 0; i < cbor_map_size(item); ++i) {
                auto k = key_of(h[i].key);
                std::string name = !k ? "?" : k->is_text ? k->text : std::to_string(k->number);
                o[name] = json_of(h[i].value);
            }
            return o;
        }
        case CBOR_TYPE_TAG:
            return json_of(untag(item));
        case CBOR_TYPE_FLOAT_CTRL:
            if (cbor_float_ctrl_is_ctrl(item)) {
                if (cbor_is_bool(item)) return cbor_get_bool(item);
                return nullptr;
            }
            return cbor_float_get_float(item);
    }
    return nullptr;
}

}  // namespace

Result<Item> decode(ByteView data) {
    if (data.empty()) return fail(ErrorKind::invalid_input, reason::cbor, "empty CBOR");
    CP_TRY(precheck(data));
    cbor_load_result res{};
    Item item(cbor_load(data.data(), data.size(), &res));
    if (!item || res.error.code != CBOR_ERR_NONE)
        return fail(ErrorKind::invalid_input, reason::cbor, "libcbor could not decode the item");
    if (res.read != data.size()) return fail(ErrorKind::invalid_input, reason::cbor, "bytes after the CBOR item");
    return item;
}

cbor_item_t* build_int(std::int64_t v) {
    const bool neg = v < 0;
    // For negatives CBOR stores -1 - v, which is non-negative and fits in uint64.
    const std::uint64_t u = neg ? static_cast<std::uint64_t>(-(v + 1)) : static_cast<std::uint64_t>(v);
    if (u <= 0xff) return neg ? cbor_build_negint8(static_cast<std::uint8_t>(u)) : cbor_build_uint8(static_cast<std::uint8_t>(u));
    if (u <= 0xffff) return neg ? cbor_build_negint16(static_cast<std::uint16_t>(u)) : cbor_build_uint16(static_cast<std::uint16_t>(u));
    if (u <= 0xffffffffu) return neg ? cbor_build_negint32(static_cast<std::uint32_t>(u)) : cbor_build_uint32(static_cast<std::uint32_t>(u));
    return neg ? cbor_build_negint64(u) : cbor_build_uint64(u);
}

Result<Bytes> encode(const cbor_item_t* item) {
    unsigned char* buf = nullptr;
    std::size_t cap = 0;
    // libcbor takes a non-const item but only reads it.
    std::size_t len = cbor_serialize_alloc(const_cast<cbor_item_t*>(item), &buf, &cap);
    if (len == 0 || buf == nullptr) {
        std::free(buf);
        return fail(ErrorKind::internal, reason::cbor, "serialisation failed");
    }
    Bytes out(buf, buf + len);
    std::free(buf);
    return out;
}

std::optional<std::int64_t> as_int(const cbor_item_t* item) {
    if (item == nullptr) return std::nullopt;
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (cbor_isa_uint(item)) {
        std::uint64_t v = cbor_get_int(item);
        if (v > kMax) return std::nullopt;
        return static_cast<std::int64_t>(v);
    }
    if (cbor_isa_negint(item)) {
        std::uint64_t v = cbor_get_int(item);
        if (v > kMax) return std::nullopt;
        return -1 - static_cast<std::int64_t>(v);
    }
    return std::nullopt;
}

std::optional<Bytes> as_bytes(const cbor_item_t* item) {
    if (item == nullptr || !cbor_isa_bytestring(item)) return std::nullopt;
    std::string s;
    if (!chunks(item, false, s)) return std::nullopt;
    return Bytes(s.begin(), s.end());
}

std::optional<std::string> as_text(const cbor_item_t* item) {
    if (item == nullptr || !cbor_isa_string(item)) return std::nullopt;
    std::string s;
    if (!chunks(item, true, s)) return std::nullopt;
    return s;
}

std::optional<Key> key_of(const cbor_item_t* item) {
    if (auto n = as_int(item)) return Key{false, *n, {}};
    if (auto t = as_text(item)) return Key{true, 0, *t};
    return std::nullopt;
}

bool has_duplicate_keys(const cbor_item_t* map) {
    if (map == nullptr || !cbor_isa_map(map)) return false;
    std::set<Key> seen;
    std::set<Bytes> seen_other;
    cbor_pair* h = cbor_map_handle(map);
    for (std::size_t i = 0; i < cbor_map_size(map); ++i) {
        if (auto k = key_of(h[i].key)) {
            if (!seen.insert(*k).second) return true;
        } else {
            auto enc = encode(h[i].key);
            if (!enc) return true;  // cannot tell: treat as a duplicate, the caller rejects
            if (!seen_other.insert(*enc).second) return true;
        }
    }
    return false;
}

const cbor_item_t* map_get(const cbor_item_t* map, std::int64_t key) {
    if (map == nullptr || !cbor_isa_map(map)) return nullptr;
    cbor_pair* h = cbor_map_handle(map);
    for (std::size_t i = 0; i < cbor_map_size(map); ++i) {
        auto k = as_int(h[i].key);
        if (k && *k == key) return h[i].value;
    }
    return nullptr;
}

const cbor_item_t* map_get(const cbor_item_t* map, std::string_view key) {
    if (map == nullptr || !cbor_isa_map(map)) return nullptr;
    cbor_pair* h = cbor_map_handle(map);
    for (std::size_t i = 0; i < cbor_map_size(map); ++i) {
        if (!cbor_isa_string(h[i].key)) continue;
        auto k = as_text(h[i].key);
        if (k && *k == key) return h[i].value;
    }
    return nullptr;
}

const cbor_item_t* untag(const cbor_item_t* item) {
    // Read the tagged item directly: cbor_tag_item() would add a reference to release.
    std::size_t guard = 0;
    while (item != nullptr && cbor_isa_tag(item) && guard++ <= kMaxDepth)
        item = item->metadata.tag_metadata.tagged_item;
    return item;
}

bool valid_utf8(std::string_view s, std::size_t* code_points) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len;
        std::uint32_t cp;
        if (c < 0x80) { len = 1; cp = c; }
        else if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1fu; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0fu; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07u; }
        else return false;
        if (i + len > s.size()) return false;
        for (std::size_t j = 1; j < len; ++j) {
            auto d = static_cast<unsigned char>(s[i + j]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
        ++count;
    }
    if (code_points != nullptr) *code_points = count;
    return true;
}

std::string to_json(const cbor_item_t* item) {
    try {
        return json_of(item).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (...) {  // nlohmann throws on allocation failure; JSON is informative only
        return "null";
    }
}

}  // namespace cp::pass::cbor
