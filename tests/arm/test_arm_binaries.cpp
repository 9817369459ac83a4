// The executables in build*/bin are ELF files for the board's processor, and the
// test helpers can start them (directly on the host, under QEMU in the cross build).
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using cp::testing::bin_dir;
using cp::testing::command_for;

namespace {

struct ElfInfo {
    bool is_elf = false;
    unsigned elf_class = 0;  // 2: 64-bit
    unsigned data = 0;       // 1: little-endian
    unsigned machine = 0;    // e_machine
};

ElfInfo read_elf(const fs::path& p) {
    std::array<unsigned char, 20> h{};
    std::ifstream in(p, std::ios::binary);
    in.read(reinterpret_cast<char*>(h.data()), static_cast<std::streamsize>(h.size()));
    ElfInfo info;
    if (in.gcount() != static_cast<std::streamsize>(h.size())) return info;
    info.is_elf = h[0] == 0x7f && h[1] == 'E' && h[2] == 'L' && h[3] == 'F';
    info.elf_class = h[4];
    info.data = h[5];
    // e_machine at offset 18, in the file's byte order (little-endian here).
    info.machine = static_cast<unsigned>(h[18]) | (static_cast<unsigned>(h[19]) << 8U);
    return info;
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 256> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p)) out += buf.data();
    int status = pclose(p);
    CHECK_MESSAGE(status == 0, cmd);
    return out;
}

}  // namespace

TEST_CASE("checkpoint and checkpointd are ELF executables for " CHECKPOINT_TARGET_PROCESSOR) {
    const fs::path bin = bin_dir();
    REQUIRE_MESSAGE(fs::exists(bin / "checkpoint"), "no " << (bin / "checkpoint").string());
    int checked = 0;
    for (const char* name : {"checkpoint", "checkpointd"}) {
        const fs::path exe = bin / name;
        if (!fs::exists(exe)) {
            MESSAGE("not built (yet): " << exe.string());
            continue;
        }
        CAPTURE(exe.string());
        const ElfInfo e = read_elf(exe);
        CHECK(e.is_elf);
        CHECK(e.elf_class == 2U);
        CHECK(e.data == 1U);
        CHECK(e.machine == CHECKPOINT_EXPECTED_MACHINE);
        ++checked;
    }
    CHECK(checked >= 1);
}

TEST_CASE("every executable in bin/ is built for " CHECKPOINT_TARGET_PROCESSOR) {
    for (const auto& entry : fs::directory_iterator(bin_dir())) {
        if (!entry.is_regular_file()) continue;
        const ElfInfo e = read_elf(entry.path());
        if (!e.is_elf) continue;  // scripts
        CAPTURE(entry.path().string());
        CHECK(e.machine == CHECKPOINT_EXPECTED_MACHINE);
    }
}

TEST_CASE("test helpers start project executables (under the emulator when cross-built)") {
    const std::string out = run(command_for(bin_dir() / "checkpoint") + " version");
    CHECK(out.rfind("checkpoint ", 0) == 0);
}

TEST_CASE("command_for quotes the executable and prefixes $CHECKPOINT_EMULATOR") {
    const std::string cmd = command_for("/tmp/a b/it's");
    CHECK(cmd.find("'/tmp/a b/it'\\''s'") != std::string::npos);
    if (cp::testing::emulated()) {
        CHECK(cmd.find("qemu") != std::string::npos);
        CHECK(cp::testing::argv_for("x").size() >= 2U);
    } else {
        CHECK(cp::testing::argv_for("x").size() == 1U);
    }
}
