#include "detour/rules/installed_table.hpp"

#include <spdlog/spdlog.h>

namespace detour::rules {

installed_table::installed_table(const rule_plan& plan, ownership own, std::string kind, std::string if_not_removed)
    : kind_(std::move(kind)), if_not_removed_(std::move(if_not_removed)) {
  installer_.install(plan, own);
}

installed_table::~installed_table() {
  auto table = installer_.installed() ? installer_.installed()->table : std::string();
  if (table.empty()) return;
  try {
    if (installer_.remove(table)) {
      spdlog::info("rules: removed {} inet {}", kind_, table);
    } else {
      spdlog::warn("rules: {} inet {} was already gone (deleted by someone else)", kind_, table);
    }
  } catch (const std::exception& e) {
    spdlog::warn("rules: {} ({})", e.what(), if_not_removed_);
  }
}

}  // namespace detour::rules
