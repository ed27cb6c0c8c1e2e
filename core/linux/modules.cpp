#include "core/linux/modules.h"

#include <algorithm>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/types/object.h"
#include "core/linux/list.h"

namespace memscope::linux_kernel {

std::string module_state_text(std::string_view enumerator) {
  // kernel/module/procfs.c (kernel/module.c before 5.19).
  if (enumerator == "MODULE_STATE_LIVE") return "Live";
  if (enumerator == "MODULE_STATE_COMING") return "Loading";
  if (enumerator == "MODULE_STATE_GOING") return "Unloading";
  if (enumerator == "MODULE_STATE_UNFORMED") return "Unformed";
  return std::string(enumerator);
}

ModuleReader::ModuleReader(const KernelView& kernel) : kernel_(kernel), profile_(kernel.profile()) {
  const TypeInfo& module = profile_.require_type("module");
  module_type_ = module.id;
  if (profile_.find_member(module, "mem")) {
    layout_ = Layout::kMemArray;
    mem_ = profile_.field(module, "mem");
    const TypeInfo& array = profile_.type(mem_.type);
    if (!array.is_array() || array.count == 0) profile_.fail("module.mem is not a sized array");
    mem_stride_ = profile_.type(array.target).size;
    mem_count_ = array.count;
    if (auto text = profile_.enum_constant("mod_mem_type", "MOD_TEXT"); text && *text >= 0 &&
                                                                         static_cast<uint64_t>(*text) < mem_count_)
      mem_text_index_ = static_cast<uint64_t>(*text);
    mem_is_text_.assign(mem_count_, false);
    mem_is_text_[mem_text_index_] = true;
    if (const TypeInfo* types = profile_.find_type("enum mod_mem_type"))
      for (const EnumeratorInfo& e : profile_.enumerators(*types))
        if (e.value >= 0 && static_cast<uint64_t>(e.value) < mem_count_ && profile_.name(e).ends_with("_TEXT"))
          mem_is_text_[static_cast<uint64_t>(e.value)] = true;
  } else if (profile_.find_member(module, "core_layout")) {
    layout_ = Layout::kCoreLayout;
    has_data_layout_ = profile_.find_member(module, "data_layout") != nullptr;
  } else if (profile_.find_member(module, "module_core")) {
    layout_ = Layout::kModuleCore;
  }
}

std::vector<uint64_t> ModuleReader::modules(Warnings& warnings) const {
  Object head = kernel_.symbol("modules", "list_head");
  std::vector<uint64_t> out;
  for (const Object& m : list_entries_recovering(head, "module", "list", "module list", warnings))
    out.push_back(m.address());
  return out;
}

Module ModuleReader::read(uint64_t address, Warnings& warnings) const {
  Module out;
  out.address = address;
  Object m(profile_, kernel_.kernel(), module_type_, address);
  ItemFailures failed;
  failed.attempt("name", [&] { out.name = m["name"].as_string(); });
  failed.attempt("state", [&] {
    Object state = m["state"];
    auto name = state.enum_name();
    out.state = name ? module_state_text(*name) : std::to_string(state.enum_value());
  });
  if (m.has_member("refcnt")) {
    // refcnt holds the count plus MODULE_REF_BASE (1) since 3.19; what
    // /proc/modules prints is module_refcount(), the count itself.
    failed.attempt("refcnt", [&] {
      Object refcnt = m["refcnt"];
      if (refcnt.type().is_record()) refcnt = refcnt["counter"];
      out.refcount = refcnt.as_i64() - 1;
    });
  }
  failed.attempt("memory layout", [&] {
    switch (layout_) {
      case Layout::kMemArray: {
        uint64_t total = 0;
        Object mem = m[mem_];
        for (uint64_t i = 0; i < mem_count_; ++i) {
          Object region = mem.at(i);
          uint64_t size = region["size"].as_u64();
          total += size;
          if (size) out.regions.push_back({region["base"].pointer(), size, mem_is_text_[i]});
        }
        out.size = total;
        out.base = mem.at(mem_text_index_)["base"].pointer();
        break;
      }
      case Layout::kCoreLayout: {
        uint64_t total = m["core_layout.size"].as_u64() + m["init_layout.size"].as_u64();
        if (has_data_layout_) total += m["data_layout.size"].as_u64();
        out.size = total;
        // Text first in each layout: [base, base + text_size), then the rest.
        for (const char* layout : {"core_layout", "init_layout", "data_layout"}) {
          if (!m.has_member(layout)) continue;
          Object l = m[layout];
          uint64_t base = l["base"].pointer(), size = l["size"].as_u64();
          uint64_t text = l.has_member("text_size") ? std::min(l["text_size"].as_u64(), size) : 0;
          if (text) out.regions.push_back({base, text, true});
          if (size > text) out.regions.push_back({base + text, size - text, false});
        }
        out.base = m["core_layout.base"].pointer();
        break;
      }
      case Layout::kModuleCore:
        out.size = m["core_size"].as_u64() + m["init_size"].as_u64();
        out.base = m["module_core"].pointer();
        for (const char* part : {"core", "init"}) {
          const std::string prefix(part);
          uint64_t base = m["module_" + prefix].pointer(), size = m[prefix + "_size"].as_u64();
          uint64_t text = m.has_member(prefix + "_text_size") ? std::min(m[prefix + "_text_size"].as_u64(), size) : 0;
          if (text) out.regions.push_back({base, text, true});
          if (size > text) out.regions.push_back({base + text, size - text, false});
        }
        break;
      case Layout::kUnknown:
        throw ProfileError("struct module has none of mem, core_layout, module_core");
    }
  });
  if (!failed.empty())
    failed.report(warnings, "module", "module " + hex_address(address) + (out.name ? " (" + *out.name + ")" : ""));
  return out;
}

}  // namespace memscope::linux_kernel
