// Shared helpers for tests: temporary directories, the shared test data, skips.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace cp::testing {

// Exit code CTest reads as "skipped" (SKIP_RETURN_CODE 77 in cp_test()).
inline constexpr int kSkip = 77;

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// ../shared/data (or $CHECKPOINT_SHARED_DATA) when present, with `sub` appended.
std::optional<std::filesystem::path> shared_data(const std::string& sub = {});

// Prints why and exits with kSkip when the shared data folder `sub` is absent.
std::filesystem::path require_shared_data(const std::string& sub);

// build/bin (or $CHECKPOINT_BIN): where the executables under test are.
std::filesystem::path bin_dir();

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& data);

}  // namespace cp::testing
