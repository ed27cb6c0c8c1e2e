// A shared library that is not a memscope plugin (no memscope_plugin_library).
extern "C" int some_function() { return 42; }
