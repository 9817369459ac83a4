// The bare PostgreSQL baseline of `loadgen run --baseline-pg URL` (pg_baseline.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace cp::loadgen {

// Writes `rows` rows shaped as the devices' scans into a fresh table of the scans
// table's shape on the server at `url` and prints rows/s for: one COPY; multi-row
// INSERTs of `batch` rows; multi-row INSERTs of `rows_per_upload` rows on
// `connections` connections. The table is dropped at the end.
void pg_baseline(const std::string& url, int devices, std::int64_t rows, std::int64_t batch,
                 std::int64_t rows_per_upload, int connections);

}  // namespace cp::loadgen
