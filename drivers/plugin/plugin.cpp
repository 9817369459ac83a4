#include "drivers/plugin/plugin.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

namespace cp::plugin {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> search_dirs() {
    std::vector<fs::path> dirs;
    if (const char* env = std::getenv("CHECKPOINT_PLUGIN_DIR"); env && *env) dirs.emplace_back(env);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        dirs.push_back(exe.parent_path().parent_path() / "lib" / "checkpoint");
        dirs.push_back(exe.parent_path());
    }
    return dirs;
}

}  // namespace

Result<void*> load_plugin(const std::string& name) {
    static std::mutex mu;
    static std::map<std::string, void*> loaded;  // never unloaded: their code may still be on a stack
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = loaded.find(name); it != loaded.end()) return it->second;
    const std::string file = "lib" + name + ".so";
    std::string tried;
    for (const auto& dir : search_dirs()) {
        std::error_code ec;
        const fs::path p = dir / file;
        if (!fs::exists(p, ec)) continue;
        if (void* h = ::dlopen(p.c_str(), RTLD_LAZY | RTLD_LOCAL)) {
            loaded.emplace(name, h);
            return h;
        }
        const char* err = ::dlerror();
        tried += (tried.empty() ? "" : "; ") + p.string() + ": " + (err ? err : "dlopen failed");
    }
    return fail(ErrorKind::unavailable, reason::plugin, file + ": " + (tried.empty() ? "not found" : tried));
}

Result<void*> plugin_symbol(void* handle, const char* symbol) {
    ::dlerror();
    void* s = ::dlsym(handle, symbol);
    if (!s) {
        const char* err = ::dlerror();
        return fail(ErrorKind::unavailable, reason::plugin, std::string(symbol) + ": " + (err ? err : "not found"));
    }
    return s;
}

}  // namespace cp::plugin
