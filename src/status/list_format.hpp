// The signed status list file (docs/status-list-format.md): a COSE_Sign1-signed
// header that commits to the SHA-256 of a bulk section of fixed-size entry records.
// The header is verified first; the entries are streamed, checked (sorted, valid)
// and hashed as they go, and only trusted once the digest matches at the end. This
// keeps a 10-million-entry import at a few MiB of memory.
//
// Error reasons (ErrorKind in brackets):
//   "list-format"  [invalid_input] bad magic, header length, header map, records,
//                  order, count, trailing bytes or truncation
//   "list-digest"  [rejected]      entries do not match the signed SHA-256
//   "cbor" | "cose" [invalid_input], "alg" | "unknown-key" | "signature" [rejected]:
//                  the signed header failed COSE verification (src/pass/cose.hpp)
//   "io"           [io]            the file could not be read
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/status/reason.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/pass.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cp::status {

inline constexpr char kMagic[8] = {'C', 'P', 'S', 'L', 'I', 'S', 'T', '1'};
inline constexpr std::size_t kRecordSize = 22;            // id 16, op 1, reason 1, since 4
inline constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
inline constexpr std::uint64_t kMaxEntries = 100'000'000;  // far above a city; bounds a hostile count
inline constexpr std::size_t kMaxReasons = 255;
inline constexpr std::size_t kMaxReasonBytes = 64;

enum class ListKind { full = 0, delta = 1 };

// Record op: a status, or (deltas only) removal of the id from the list.
enum class Op : std::uint8_t { green = 0, yellow = 1, red = 2, remove = 3 };
const char* to_string(Op op) noexcept;  // "green", "yellow", "red", "remove"

struct ListHeader {
    ListKind kind = ListKind::full;
    std::int64_t version = 0;        // strictly increasing per command centre; 1..2^53-1
    std::int64_t base_version = 0;   // deltas: applies only on top of exactly this version
    std::int64_t created_at = 0;     // s since epoch: the list's age is measured from here
    std::uint64_t entry_count = 0;
    crypto::Sha256 entries_sha256{};
    std::vector<std::string> reasons;  // reason texts; records index into this table
    std::string issuer;                // informative ("CN-HL-DQ")
};

struct ListEntry {
    pass::PassId id{};
    Op op = Op::green;
    std::uint8_t reason = 0;         // index into ListHeader::reasons
    std::uint32_t since = 0;         // s since epoch
};

// Encodes / decodes the signed header payload (a CBOR map, integer keys).
Bytes encode_header(const ListHeader& h);
Result<ListHeader> decode_header(ByteView payload);

void encode_record(const ListEntry& e, std::uint8_t* out);
// Validates op (remove only in deltas), reason index. Errors "list-format".
Result<ListEntry> decode_record(const std::uint8_t* in, const ListHeader& h);

// Builds a complete list file in memory (tests, deltas, fuzz seeds). Entries are
// sorted by id here; duplicates are an error "list-format". Header fields
// entry_count and entries_sha256 are filled in.
Result<Bytes> build_list(ListHeader header, std::vector<ListEntry> entries, const crypto::PrivateKey& key,
                         ByteView kid);

// Writes a list file from entries already sorted by id, streaming (10M entries
// without holding the whole file). Errors "list-format" (unsorted), "io".
Status write_list_file(const std::string& path, ListHeader header, std::span<const ListEntry> sorted,
                       const crypto::PrivateKey& key, ByteView kid);

// Streaming SHA-256 of the entries section (for writers that generate entries
// on the fly and cannot hold them all).
class EntriesDigest {
public:
    EntriesDigest();
    ~EntriesDigest();
    EntriesDigest(const EntriesDigest&) = delete;
    EntriesDigest& operator=(const EntriesDigest&) = delete;
    void update(ByteView records);
    crypto::Sha256 finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The bytes before the entries: magic, length, signed header (COSE_Sign1 over
// encode_header(h)). `h` must already carry entry_count and entries_sha256.
Result<Bytes> signed_prefix(const ListHeader& h, const crypto::PrivateKey& key, ByteView kid);

// Where list bytes come from: a file or memory.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Reads up to n bytes; 0 at end. Errors [io] "io".
    virtual Result<std::size_t> read(std::uint8_t* out, std::size_t n) = 0;
};
class MemorySource final : public ByteSource {
public:
    explicit MemorySource(ByteView data) : data_(data) {}
    Result<std::size_t> read(std::uint8_t* out, std::size_t n) override;

private:
    ByteView data_;
    std::size_t pos_ = 0;
};
class FileSource final : public ByteSource {
public:
    static Result<std::unique_ptr<FileSource>> open(const std::string& path);
    ~FileSource() override;
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;
    Result<std::size_t> read(std::uint8_t* out, std::size_t n) override;

private:
    explicit FileSource(std::FILE* f) : f_(f) {}
    std::FILE* f_;
};

// Streams a list: open() reads and verifies the signed header against `trust`;
// next() yields validated entries in id order; after the last entry next()
// verifies digest, count and end of input, and only then returns 0 with done().
// Until done(), no entry may be considered trusted.
class ListReader {
public:
    static Result<std::unique_ptr<ListReader>> open(ByteSource& src, const crypto::TrustStore& trust);
    ~ListReader();
    ListReader(const ListReader&) = delete;
    ListReader& operator=(const ListReader&) = delete;

    const ListHeader& header() const { return header_; }
    const Bytes& signer_kid() const { return kid_; }
    // Fills up to out.size() entries; returns how many. 0 means the list ended and
    // verified (done() is then true). Errors as listed at the top of this file.
    Result<std::size_t> next(std::span<ListEntry> out);
    bool done() const { return done_; }

private:
    ListReader(ByteSource& src, ListHeader h, Bytes kid);
    ByteSource& src_;
    ListHeader header_;
    Bytes kid_;
    std::uint64_t read_ = 0;
    bool done_ = false;
    bool have_prev_ = false;
    pass::PassId prev_{};
    Bytes buf_;
    struct Hash;
    std::unique_ptr<Hash> hash_;
};

}  // namespace cp::status
