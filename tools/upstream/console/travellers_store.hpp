// Registrations of travellers entering the city (kind E passes, kind D for truck
// drivers), kept in the console's database, SQLite or PostgreSQL (tables of
// migrations 150+ in sqlite_console_store.cpp).
//
// Personal data: the ID number is never stored (only its keyed hash, identity.hpp);
// name, phone, origin, address, plate and the pass text are deleted `retention`
// after the registration was made (purge()), leaving the grid, the kind, the
// status and the arrival time and place for the statistics. SQLite overwrites the
// freed pages (secure_delete); PostgreSQL rewrites the table (VACUUM FULL), its
// write-ahead log keeps the old rows until recycled. Operators read registrations only of grids in
// their scope; anything else is not_found.
//
// Arrival: a scan stored by the upstream (any device, any verdict but "reject",
// not a guard's resolution) of a registered pass marks the registration arrived
// with the scan's time and the device's site, and opens an `arrival` worklist item
// in the destination grid. The upstream issued the pass, so it knows the pass's
// kind from the pass id: the uploaded scan needs no kind field.
//
// Thread-safe (one connection, one mutex).
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/console_store.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cp::upstream::console {

enum class TravelStatus { registered, arrived, expired };
const char* to_string(TravelStatus s) noexcept;

struct Registration {
    std::int64_t id = 0;
    std::string pass_id;            // 32 lower-case hex
    std::string kind;               // "E", or "D" (driver route, with a plate)
    std::string label;              // masked name as on the pass
    std::string name, id_hash, phone, origin, address, plate;  // personal: purged after retention
    std::string grid;               // destination grid code
    std::string transport;          // car, truck, train, bus
    std::int64_t expected_arrival = 0;
    std::string site;               // entry point the traveller registered for (may be empty)
    std::string qr;                 // the pass's QR text (purged with the personal data)
    TravelStatus status = TravelStatus::registered;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;    // a registration not arrived by then expires
    std::int64_t arrived_at = 0;
    std::string arrival_site{};     // site code of the scanning device ("" if unassigned)
    std::string arrival_device{};
    std::int64_t purged_at = 0;
};

struct EntryCount {
    std::string site;        // site code ("" : devices at no site)
    std::string name;
    std::int64_t arrivals = 0;
    std::int64_t expected = 0;  // registered for this entry point, not yet arrived
};

struct GridChoice {
    std::string code;
    std::string name_zh, name_en;  // "district / street / grid"
};

class TravellerStore {
public:
    virtual ~TravellerStore() = default;
    // Stores a registration and its pass in the grid (console `passes`, so workers
    // can set its status). Errors: not_found "area" (no such grid), rejected "exists".
    virtual Result<std::int64_t> add(const Registration& r, const std::string& token_hash) = 0;
    // The registration of a pass-page token (hash). Errors: not_found "registration".
    virtual Result<Registration> by_token(const std::string& token_hash) = 0;
    virtual Result<std::vector<Registration>> list(const Scope& scope, std::size_t limit) = 0;
    virtual Result<Registration> get(std::int64_t id, const Scope& scope) = 0;

    // Abuse limits: counts attempts per key ("phone:<sha>", "addr:<ip>", "id:<hash>").
    // In one transaction: false when any key has `max` attempts within its window
    // already (nothing counted), else counts one attempt for every key.
    struct Limit {
        std::string key;
        std::int64_t max = 0;
        std::int64_t window_s = 0;
    };
    virtual Result<bool> admit(const std::vector<Limit>& limits, std::int64_t now) = 0;

    // Entry-point sites (is_entry_kind) inside `scope` (null: all, the public page).
    virtual Result<std::vector<Site>> entry_points(const Scope* scope) = 0;
    virtual Result<Site> entry_point(const std::string& code, const Scope* scope) = 0;  // Errors: not_found "site"
    // Public choices of the registration page.
    virtual Result<std::vector<GridChoice>> grids() = 0;

    // Background jobs. Each returns how many registrations it changed.
    virtual Result<std::size_t> record_arrivals(std::int64_t now) = 0;
    virtual Result<std::size_t> expire(std::int64_t now) = 0;
    virtual Result<std::size_t> purge(std::int64_t created_before, std::int64_t now) = 0;

    // Arrivals since `since` per entry point, for registrations of grids in scope.
    virtual Result<std::vector<EntryCount>> arrivals_per_entry(const Scope& scope, std::int64_t since) = 0;
};

// A site kind of an entry point ("entry", "road-entry", "rail-entry", ...).
bool is_entry_kind(std::string_view kind);

// Opens the traveller tables in the console's database: a SQLite file or a
// PostgreSQL URL, as open_store() reads it (open_console_store first: it applies the
// migrations). Errors: io "sqlite-open" / "postgresql-open", io "sqlite-migration".
Result<std::unique_ptr<TravellerStore>> open_traveller_store(const std::string& db);

}  // namespace cp::upstream::console
