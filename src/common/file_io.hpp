// Small files that must survive a power cut whole (version floors, synced trust
// lists): a reader sees the old content or the new one, never a part.
#pragma once

#include "src/common/result.hpp"

#include <filesystem>
#include <string_view>

namespace cp {

// Writes `data` to `tmp` (beside `path`, in the same folder), fsyncs it, renames
// it over `path` and fsyncs the folder (best effort: some file systems refuse a
// directory fsync). On any failure the temporary file is removed and the error is
// io/`reason` with the step, the file and errno's text.
Status write_file_atomically(const std::filesystem::path& path, std::string_view data,
                             const std::filesystem::path& tmp, Reason reason);

}  // namespace cp
