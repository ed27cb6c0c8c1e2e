# memscope is built from parts, one CMake OBJECT library each, whose include
# paths allow only the permitted arrows between them.
#
# No part sees the source root. Each part P gets a folder
# ${CMAKE_BINARY_DIR}/layering/P that holds, at their usual relative paths,
# symbolic links to its own source folders only ("core/layers" ->
# <src>/core/layers). That folder is P's PUBLIC include directory, so a part
# that links P may write #include "core/layers/overlay.h", and a part that
# does not cannot: the header is simply not on its path, and the build fails.
# Adding an arrow is adding a name to DEPENDS; docs/architecture.md draws
# the result.
#
#   memscope_part(NAME core_layers DIRS core/layers DEPENDS core_util
#                 LIBS PkgConfig::LZ4)
#
# Sources are the .cpp files directly in each of DIRS (not recursive: a
# sub-folder that is a part of its own is listed as such).
function(memscope_part)
  cmake_parse_arguments(PART "" "NAME" "DIRS;DEPENDS;LIBS" ${ARGN})
  set(sources)
  set(view ${CMAKE_BINARY_DIR}/layering/${PART_NAME})
  foreach(dir ${PART_DIRS})
    file(GLOB dir_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.cpp)
    list(APPEND sources ${dir_sources})
    get_filename_component(parent ${view}/${dir} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    if(NOT EXISTS ${view}/${dir})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${dir} ${view}/${dir} SYMBOLIC)
    endif()
  endforeach()
  add_library(${PART_NAME} OBJECT ${sources})
  target_include_directories(${PART_NAME} PUBLIC $<BUILD_INTERFACE:${view}>)
  target_compile_options(${PART_NAME} PRIVATE ${MEMSCOPE_WARNINGS})
  target_compile_definitions(${PART_NAME} PRIVATE MEMSCOPE_VERSION="${PROJECT_VERSION}")
  target_link_libraries(${PART_NAME} PUBLIC ${PART_DEPENDS} PRIVATE ${PART_LIBS})
  set_property(GLOBAL APPEND PROPERTY MEMSCOPE_PARTS ${PART_NAME})
endfunction()
