// Shared helpers for tests: temporary directories, the shared test data, skips.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

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

// tests/data/`sub`: test data kept in the repository (the EU DCC conformance cases,
// a subset of the BoofCV photographs), so the tests that read it never skip.
std::filesystem::path vendored_data(const std::string& sub);

// The full photo set, optional: ../shared/data (or $CHECKPOINT_SHARED_DATA) when
// present, with `sub` appended.
std::optional<std::filesystem::path> shared_data(const std::string& sub = {});

// Prints why and exits with kSkip when the shared data folder `sub` is absent.
std::filesystem::path require_shared_data(const std::string& sub);

// build/bin (or $CHECKPOINT_BIN): where the executables under test are.
std::filesystem::path bin_dir();

// The shell command that starts the project executable `exe`: `exe` quoted, prefixed
// with $CHECKPOINT_EMULATOR (e.g. "qemu-aarch64 -L /sysroot") when set, as it is
// for every test of a cross build, where build/bin holds aarch64 executables.
// Use it for everything a test starts from bin_dir():
//   std::system((command_for(bin_dir() / "checkpoint") + " version").c_str());
std::string command_for(const std::string& exe);

// The same as an argv prefix for execv/posix_spawn: {emulator words..., exe}.
std::vector<std::string> argv_for(const std::string& exe);

// True when the tests run under an emulator (qemu-aarch64 in the cross build), where
// code runs several times slower: wall-clock bounds in tests should widen or skip.
bool emulated();

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& data);

}  // namespace cp::testing
