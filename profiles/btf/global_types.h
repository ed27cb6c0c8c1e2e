// Types of kernel global variables that BTF does not describe.
//
// vmlinux BTF (pahole) records types for per-CPU variables only, yet plugins
// need to know that `init_task` is a struct task_struct or that `prb` points
// to a struct printk_ringbuffer. These are facts of the kernel's source (its
// declarations), the same for every build that has the variable; the
// generator gives a System.map symbol its type from this table when BTF has
// none, and only when the named types exist in the BTF at hand.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memscope {

// One declaration in a small C-like notation: optional "struct", "union" or
// "enum", a type name as the kernel (and BTF) spells it, typedef names
// included ("pgd_t", "u32", "long unsigned int"), or "void" or "function";
// then suffixes applied left to right: "*" (pointer to), "[N]" or "[]"
// (array of N, or of unknown length) and "[..]" (array of as many elements
// as fit before the next symbol's address: for arrays whose length is a
// constant of the kernel's version or configuration, such as NR_LDISCS or
// NR_CPUS, which the symbol table measures). "function * []" is an array of
// function pointers; "struct kset *" a pointer to a struct kset.
struct TypeDeclaration {
  enum class Tag : uint8_t { kNone, kStruct, kUnion, kEnum };
  struct Suffix {
    bool pointer = false;  // else an array
    uint32_t count = 0;    // array length; 0: unknown
    bool to_next_symbol = false;  // "[..]": the length is measured by the symbol table
  };
  Tag tag = Tag::kNone;
  std::string name;
  std::vector<Suffix> suffixes;
};

// Parses one or more declarations separated by "|" (alternatives, tried in
// order: a variable's type changed across kernel versions, or a typedef may
// be absent). Throws memscope::Error on a syntax error.
std::vector<TypeDeclaration> parse_type_declarations(std::string_view text);

struct KnownGlobalType {
  std::string_view symbol;
  std::string_view declaration;  // see TypeDeclaration
};

// The table, sorted by symbol name.
std::span<const KnownGlobalType> known_global_types();
// The entry for `symbol`, or nullptr.
const KnownGlobalType* find_known_global_type(std::string_view symbol);

}  // namespace memscope
