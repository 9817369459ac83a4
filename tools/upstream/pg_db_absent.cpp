// Builds without libpq (a cross build's sysroot): PostgreSQL URLs are refused.
#include "tools/upstream/sql_db.hpp"

namespace cp::upstream {

Result<std::unique_ptr<SqlDb>> open_pg_db(const std::string&) {
    return fail(ErrorKind::config, sql_reason::postgresql_open, "this build has no PostgreSQL support (libpq)");
}

}  // namespace cp::upstream
