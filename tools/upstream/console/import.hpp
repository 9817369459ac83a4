// Parsers for what operators import: the area tree (CSV or JSON), pass-to-grid
// registrations and status changes (CSV). All-or-nothing: the first bad line fails
// the whole file with invalid_input and its line number; nothing is half-imported.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/console_store.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cp::upstream::console {

inline constexpr std::size_t kMaxImportRows = 200000;

// Splits CSV text into lines (LF or CRLF; a leading BOM, empty lines and a first line
// starting with `header` skipped) and fields (',', no quotes allowed), and calls `f`
// per line; a non-empty answer from `f` fails the whole text with invalid_input
// `reason` and the line number, as does a wrong field count or more than
// kMaxImportRows rows.
using CsvLineFn = std::function<std::string(const std::vector<std::string>& fields)>;
Status each_csv_line(std::string_view text, Reason reason, std::size_t want_min, std::size_t want_max,
                     std::string_view header, const CsvLineFn& f);

// CSV `code,parent,name_zh,name_en` (header optional, parent empty for the city), or
// JSON: an array of {"code","parent","name_zh","name_en"} objects, or one nested
// object {"code","name_zh","name_en","children":[...]}. The result lists parents
// before children. Errors: invalid_input "areas-csv" / "areas-json".
Result<std::vector<AreaNode>> parse_areas_csv(std::string_view text);
Result<std::vector<AreaNode>> parse_areas_json(std::string_view text);

// CSV `pass_id,grid,label` (label: the masked name printed on the pass).
// Errors: invalid_input "passes-csv".
Result<std::vector<PassRecord>> parse_passes_csv(std::string_view text);

// CSV `pass_id,status,reason,until` with until empty or YYYY-MM-DD / ISO 8601 time.
// Errors: invalid_input "statuses-csv".
Result<std::vector<StatusChange>> parse_statuses_csv(std::string_view text);

// "2026-12-31" (end of that UTC day is not implied: midnight), ISO 8601 date-time,
// or empty (0). nullopt when malformed.
std::optional<std::int64_t> parse_end_date(std::string_view text);

}  // namespace cp::upstream::console
