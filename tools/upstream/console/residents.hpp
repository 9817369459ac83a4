// The resident registry of the console: residents per grid, imported from CSV by
// grid and street operators within their scope, one CP1 kind R pass each (issued
// in batch for a grid or one at a time, re-issued or revoked with the old pass put
// RED in the next list), the per-person pass page reached through an unguessable
// link, the symptom self-check from that page, and the paper cards.
//
// Data minimisation: the ID number is kept only as its keyed hash (identity.hpp);
// full name, phone and address are shown only to operators of the resident's own
// grid and masked for every level above; every export is audited. Passes carry the
// masked name and the grid code only. Page links are random 256-bit tokens of which
// only the SHA-256 is stored.
//
// Scope is enforced here like in ConsoleStore: a resident outside the operator's
// subtree answers not_found exactly as a missing one.
//
// Storage: the residents tables of the console store's SQLite file (migration 100),
// through its own connection (WAL); passes, statuses, audit and the worklist go
// through ConsoleStore. Thread-safe.
#pragma once

#include "tools/upstream/reasons.hpp"
#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/crypto/crypto.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/sms.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cp::upstream::console {

namespace reason {
// The upstream's reasons are the console's too (console::reason::login names them).
using namespace ::cp::upstream::reason;
inline constexpr Reason residents_csv{"residents-csv"};          // invalid_input: a bad import line
inline constexpr Reason registered_elsewhere{"registered-elsewhere"};  // rejected: ID in a grid outside scope
inline constexpr Reason no_issuer{"no-issuer"};                  // unavailable: serve without an issuer key
inline constexpr Reason has_pass{"has-pass"};                    // rejected: issue again without re-issue
inline constexpr Reason no_pass{"no-pass"};                      // rejected: re-issue/revoke without a pass
inline constexpr Reason self_check{"self-check"};                // invalid_input: a bad self-check body
inline constexpr Reason self_check_rate{"self-check-rate"};      // rejected: too many self-checks today
inline constexpr Reason pass_ended{"pass-ended"};                // rejected: self-check on an old pass
inline constexpr Reason reissued{"reissued"};                    // the status reason of a re-issued pass
inline constexpr Reason revoked{"revoked"};                      // the status reason of a revoked pass
inline constexpr Reason claim_code{"claim-code"};                // rejected: wrong, expired or used-up code
inline constexpr Reason self_registration{"self-registration"};  // invalid_input: a bad registration body
inline constexpr Reason not_pending{"not-pending"};              // rejected: confirm/reject a resident not pending
inline constexpr Reason address_unmatched{"address-unmatched"};  // rejected: no grid known for the address
inline constexpr Reason resident{"resident"};                    // not_found: no such resident in the scope
inline constexpr Reason pass_page{"pass-page"};                  // not_found: no pass page for the token
inline constexpr Reason no_sms{"no-sms"};                        // unavailable: serve without a text-message backend
inline constexpr Reason residents{"residents"};                  // config: residents' options that go together
}  // namespace reason

inline constexpr std::size_t kMaxResidentRows = 200000;

// One CSV line `name,id_number,phone,address,grid` (header "name," optional; UTF-8,
// no quotes). All-or-nothing: Errors invalid_input "residents-csv" with the line.
struct ResidentRow {
    std::string name;       // 1..64 bytes
    std::string id_number;  // valid_id_number
    std::string phone;      // valid_phone
    std::string address;    // household / address unit, 0..200 bytes
    std::string grid;       // grid node code
};
Result<std::vector<ResidentRow>> parse_residents_csv(std::string_view text);

// The self-registration body from the public page: JSON {"name","id_number","phone",
// "address"[,"grid"][,"code"]}, every value a string checked as on an import line (the
// code, when present, six digits); no grid or an empty one: the grid of the address.
// Errors: invalid_input "self-registration".
struct SelfRegistration {
    ResidentRow row;
    std::string code;  // empty: asking for a code
};
Result<SelfRegistration> parse_self_registration(std::string_view body);

// An address as compared with the grids' address units (residents_selfreg.cpp):
// full-width digits and letters become ASCII, letters upper case, spaces and
// separators dropped, 号楼 / 幢 / 座 / # after a number become 栋, 室 is dropped.
// "红军街１号楼 2单元 502室" and "红军街1栋2单元502" are the same.
std::string normalise_address(std::string_view address);
// A grid's known address (an imported or confirmed resident's).
struct AddressUnit {
    std::string address, grid;
};
// The grid whose address units hold `address`: a unit is a known address or a
// prefix of it ending in a number and 号, 栋, 单元, 弄 or 巷 (the building, the
// staircase); the longest unit found in the address decides, and a unit known in
// two grids decides nothing. A number does not match inside a longer one (1栋 is
// not in 11栋). `regions` (the city's and districts' names) are left out of both
// sides first, so "向阳区红军街1号楼" and "鹤岗市红军街1栋" compare as "红军街1栋".
// nullopt: no unit, or no single grid.
std::optional<std::string> grid_of_address(std::string_view address, const std::vector<AddressUnit>& units,
                                           const std::vector<std::string>& regions = {});

// The self-check from the pass page: JSON {"fever":bool,"cough":bool,"contact":bool,
// "travel":bool[,"temperature_c":number 30..45]}, every flag required.
// Errors: invalid_input "self-check".
struct SelfCheck {
    bool fever = false, cough = false, contact = false, travel = false;
    std::optional<double> temperature_c;
    bool abnormal() const { return fever || cough || contact || travel || (temperature_c && *temperature_c >= 37.3); }
    std::string summary() const;  // "fever cough 38.2" (no personal data)
};
Result<SelfCheck> parse_self_check(std::string_view body);

struct ResidentView {
    std::int64_t id = 0;
    std::string grid;
    std::string name, phone, address;  // masked unless the operator is of this grid
    bool masked = true;
    bool pending = false;              // self-registered, not yet confirmed by the grid
    std::string pass_id;               // current pass; empty when none
    std::int64_t issued_at = 0;
    PassStatus status = PassStatus::green;
    std::string status_reason;
};

// A pass just issued: the page token exists only here (the store keeps its hash).
struct IssuedPass {
    std::int64_t resident_id = 0;
    std::string pass_id;
    std::string qr;
    std::string page_token;
    std::string ended_pass_id;  // the pass it replaces (re-issue), else empty
};

// What the pass page shows (no personal data beyond the masked name).
struct PassPage {
    std::string pass_id;
    std::string qr;
    std::string label;          // masked name
    std::string grid;           // grid code
    std::string grid_name;
    std::int64_t issued_at = 0;
    std::int64_t expires_at = 0;
    PassStatus status = PassStatus::green;
    std::string status_reason;
    bool ended = false;         // re-issued or revoked: the page says so, in red
    std::string end_reason;
};

// One paper card (cards.hpp renders them).
struct Card {
    std::string qr;
    std::string label;
    std::string grid;
    std::string grid_name;
    std::int64_t issued_at = 0;
};

struct ResidentsConfig {
    Bytes id_secret;                                  // load_id_secret
    std::shared_ptr<const crypto::PrivateKey> issuer_key;  // null: no issuance
    Bytes issuer_cert_der;
    std::string issuer = "checkpoint";                // CWT iss of the passes
    std::int64_t pass_validity_s = 365 * 86400;
    std::string public_url;                           // base of page links in text messages
    std::shared_ptr<SmsSender> sms;                   // null: no text messages
    int self_checks_per_day = 6;                      // per pass
};

class Residents {
public:
    // Opens its own connection to the console store's database (migrated already).
    // Errors: io "sqlite-open", config "id-secret" (secret shorter than 32 bytes).
    static Result<std::unique_ptr<Residents>> open(const std::string& db_path, ConsoleStore& store,
                                                   ResidentsConfig cfg);
    ~Residents();
    Residents(const Residents&) = delete;
    Residents& operator=(const Residents&) = delete;

    bool can_issue() const;

    // Adds or updates residents (matched by the ID hash) in grids inside the actor's
    // scope, all or nothing, one audit entry. Errors: not_found "area" (a grid outside
    // scope), invalid_input "residents-csv", rejected "registered-elsewhere" / "read-only".
    Result<std::size_t> import(const std::vector<ResidentRow>& rows, const Operator& actor, std::int64_t now);
    Result<std::vector<ResidentView>> list(const Operator& actor, const std::string& grid, std::size_t limit);
    Result<ResidentView> get(std::int64_t id, const Operator& actor);
    // The actor's residents of `grid` (empty: whole scope) as CSV, masked as in list();
    // audited ("residents-export" with the row count).
    Result<std::string> export_csv(const Operator& actor, const std::string& grid, std::int64_t now);

    // Issues a pass to every resident of `grid` without one (resident unset), or to
    // one resident; `reissue` replaces a resident's current pass (the old one goes
    // RED "reissued"). Sends the page link by text message when configured.
    // Errors: unavailable "no-issuer", not_found, rejected "has-pass"/"no-pass".
    Result<std::vector<IssuedPass>> issue(const Operator& actor, const std::string& grid,
                                          std::optional<std::int64_t> resident, bool reissue,
                                          std::int64_t now);
    // Ends the current pass and puts it RED "revoked". Errors: not_found, rejected "no-pass".
    Status revoke(std::int64_t resident, const Operator& actor, std::int64_t now);

    // Cards for one resident or every resident of `grid` with a current pass; audited
    // ("cards-print"). Errors: not_found.
    Result<std::vector<Card>> cards(const Operator& actor, const std::string& grid,
                                    std::optional<std::int64_t> resident, std::int64_t now);

    // The pass page by its token. Errors: not_found "pass-page".
    Result<PassPage> page(std::string_view token);
    // Records a self-check; an abnormal one opens a "self-report" worklist item in the
    // resident's grid (never a status change). Errors: not_found "pass-page",
    // rejected "pass-ended" / "self-check-rate".
    Result<bool> self_check(std::string_view token, const SelfCheck& check, std::int64_t now);

    // Self-service for a registered resident who has no link (or lost the phone): a
    // six-digit code by text message to the phone registered with this ID number, valid
    // 10 minutes and for 5 tries, one a minute. start_claim answers the same whether or
    // not the pair is registered and whether or not a code went out (no enumeration,
    // also not through its rate limits); it fails for a missing sender (unavailable
    // "no-sms") or a sender's fault. finish_claim issues the pass (re-issues a current one, the old goes RED
    // "reissued"), audited as "self-service". Errors: rejected "claim-code".
    Status start_claim(std::string_view id_number, std::string_view phone, std::int64_t now);
    Result<IssuedPass> finish_claim(std::string_view id_number, std::string_view phone, std::string_view code,
                                    std::int64_t now);

    // Self-registration of a resident not yet in the registry, from the public page:
    // start_registration sends a six-digit code to the phone (the claim's limits: 10
    // minutes, 5 tries, one a minute per ID and phone) and answers the same whether or
    // not the ID number is registered; the grid must be a grid (not_found "area").
    // With no grid in `row` the grid comes from the address (grid_of_address over the
    // active residents' addresses): rejected "address-unmatched" when none, nothing
    // stored and no code sent; the resident then chooses the grid, and its worklist
    // item goes to the street above that grid (the address is not one of the grid's).
    // Answers the grid the registration waits in and whether the address chose it.
    // finish_registration, on the right code, adds the resident to the grid as pending
    // with a "self-registration" worklist item, audited; an ID number already in the
    // registry adds nothing and answers the same. Errors: rejected "claim-code",
    // unavailable "no-sms".
    struct RegistrationGrid {
        std::string grid;
        bool from_address = false;
    };
    Result<RegistrationGrid> start_registration(const ResidentRow& row, std::int64_t now);
    Status finish_registration(const ResidentRow& row, std::string_view code, std::int64_t now);
    // The grid worker's decision on a pending resident (in scope, else not_found):
    // confirm makes it a resident and issues the pass (its link by text message);
    // reject removes it. Both audited and close the worklist item.
    // Errors: rejected "not-pending" / "read-only", unavailable "no-issuer" (confirm).
    Result<IssuedPass> confirm_registration(std::int64_t resident, const Operator& actor, std::int64_t now);
    Status reject_registration(std::int64_t resident, const Operator& actor, std::int64_t now);
    // Every grid (code, Chinese and English name) for the public page's choice.
    Result<std::vector<AreaNode>> public_grids();

    // The page link for a token (public_url + "/p/" + token).
    std::string link(const std::string& token) const;
    std::string link_text(const std::string& token) const;  // the text message carrying it

private:
    struct Impl;
    explicit Residents(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The registry as `upstream serve` configures it: --id-secret FILE (enables it),
// --issuer-key PEM --issuer-cert PEM [--issuer-name ISS] (issuance), --public-url URL
// (page links in text messages), --sms-outbox DIR or --sms-gateway URL
// [--sms-template BODY]. Null without --id-secret. Errors: config, io, the key's.
Result<std::shared_ptr<Residents>> residents_from_options(const std::map<std::string, std::string>& opts,
                                                          const std::string& db_path, ConsoleStore& store);

}  // namespace cp::upstream::console
