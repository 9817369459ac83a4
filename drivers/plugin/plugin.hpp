// Optional driver backends that pull large libraries (OpenCV videoio and
// imgcodecs with GDAL, GStreamer, FFmpeg; highgui with Qt) are built as small
// plugins and loaded only when a configuration selects them, so a daemon that
// does not use them never maps those libraries (docs/benchmarks.md, peak RSS).
//
// Thread-safety: load_plugin() and plugin_symbol() may be called from any thread.
#pragma once

#include "src/common/result.hpp"

#include <string>

// Error reason: [unavailable] "plugin" (the library or a symbol is missing).
namespace cp::plugin::reason {
inline constexpr Reason plugin{"plugin"};
}  // namespace cp::plugin::reason

namespace cp::plugin {

// Loads lib<name>.so (RTLD_LAZY | RTLD_LOCAL, once per process; later calls
// return the same handle). Searched, first hit wins: $CHECKPOINT_PLUGIN_DIR,
// <executable dir>/../lib/checkpoint (build/bin, build/tests and build/bench
// all find build/lib/checkpoint), the executable's own folder.
// Errors: unavailable/"plugin" naming the library and dlerror().
Result<void*> load_plugin(const std::string& name);

// A symbol of a loaded plugin. Errors: unavailable/"plugin".
Result<void*> plugin_symbol(void* handle, const char* symbol);

// Both in one: sets `fn` to the symbol, cast to its function type.
template <typename Fn>
Status plugin_function(const std::string& name, const char* symbol, Fn*& fn) {
    auto h = load_plugin(name);
    if (!h) return fail(h.error());
    auto s = plugin_symbol(*h, symbol);
    if (!s) return fail(s.error());
    fn = reinterpret_cast<Fn*>(*s);
    return {};
}

}  // namespace cp::plugin
