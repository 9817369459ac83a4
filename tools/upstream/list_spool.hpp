// Streaming construction of signed status lists (CPSLIST1, src/status/list_format.hpp)
// for publish_list: entries go to a temporary file of fixed-size records as they
// are read from the store, hashed on the way; the signed header is made from the
// count and digest, and the file is the header followed by the records. Memory
// stays a few buffers whatever the number of entries (10 million: 220 MB on disk).
#pragma once

#include "src/common/result.hpp"
#include "src/status/list_format.hpp"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace cp::upstream {

// A folder under $TMPDIR removed with everything in it at destruction.
class ScratchDir {
public:
    static Result<ScratchDir> create();
    ScratchDir(ScratchDir&&) noexcept;
    ScratchDir& operator=(ScratchDir&&) = delete;
    ~ScratchDir();
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    ScratchDir() = default;
    std::filesystem::path path_;
};

// Records in strictly increasing id order, spooled to a file.
class RecordSpool {
public:
    // Errors: io "spool".
    static Result<RecordSpool> create(std::filesystem::path path);
    RecordSpool(RecordSpool&&) noexcept;
    RecordSpool& operator=(RecordSpool&&) = delete;
    ~RecordSpool();

    // Errors: internal "order" (an id not above the one before: the store's order
    // is not the list's), io "spool".
    Status add(const status::ListEntry& e);
    std::uint64_t count() const { return count_; }
    // Ends writing; the digest of every record added.
    Result<crypto::Sha256> finish();
    // Reads the records back in order (after finish()). Errors: io "spool", or fn's.
    Status for_each(const std::function<Status(const status::ListEntry&)>& fn) const;
    // Writes `out`: the signed prefix of `h` (entry_count and entries_sha256 filled
    // in from this spool) and then the records. Errors: io "spool", the signer's.
    Result<std::int64_t> write_signed(status::ListHeader h, const crypto::PrivateKey& key, ByteView kid,
                                      const std::filesystem::path& out) const;

private:
    RecordSpool() = default;
    Status flush();
    std::filesystem::path path_;
    std::FILE* f_ = nullptr;
    std::vector<std::uint8_t> buf_;
    status::EntriesDigest digest_;
    crypto::Sha256 sha_{};
    std::uint64_t count_ = 0;
    bool have_last_ = false;
    pass::PassId last_{};
};

// Decodes a record written by status::encode_record (id, op, reason, since).
status::ListEntry record_entry(const std::uint8_t* rec);

}  // namespace cp::upstream
