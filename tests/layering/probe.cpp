// Compiled with the include paths of one part of memscope and an include of
// another part's header (PROBE_HEADER, set by tests/CMakeLists.txt): the
// layering tests expect a forbidden include to fail to compile and a
// permitted one to succeed. See docs/architecture.md.
#include PROBE_HEADER

int memscope_layering_probe() { return 0; }
