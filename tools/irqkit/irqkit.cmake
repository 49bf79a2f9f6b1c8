# SPDX-License-Identifier: BSD-2-Clause
# The irqkit tool: the binary (with the embedded default scenario and
# optional libedit), the example and bad-input tests, JSON checks, and the
# libFuzzer target for the scenario parser (clang only).  Included from the
# top-level CMakeLists.txt after enable_testing().

set(IK_TOOL_DIR ${CMAKE_SOURCE_DIR}/tools/irqkit)
file(GLOB IK_TOOL_SOURCES CONFIGURE_DEPENDS ${IK_TOOL_DIR}/*.c)
set(IK_TOOL_DEFAULT_C ${CMAKE_BINARY_DIR}/tools/irqkit/default_scn.c)
add_custom_command(OUTPUT ${IK_TOOL_DEFAULT_C}
  COMMAND ${CMAKE_COMMAND} -DIN=${IK_TOOL_DIR}/default.scn -DOUT=${IK_TOOL_DEFAULT_C}
          -P ${IK_TOOL_DIR}/embed.cmake
  DEPENDS ${IK_TOOL_DIR}/default.scn ${IK_TOOL_DIR}/embed.cmake
  COMMENT "Embedding the default scenario")

add_executable(irqkit-tool ${IK_TOOL_SOURCES} ${IK_TOOL_DEFAULT_C})
set_target_properties(irqkit-tool PROPERTIES OUTPUT_NAME irqkit
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_include_directories(irqkit-tool PRIVATE ${IK_TOOL_DIR})
target_compile_options(irqkit-tool PRIVATE ${IK_WARN})
target_link_libraries(irqkit-tool PRIVATE iksim irqkit)

# Line editing for `irqkit shell` when libedit is installed (libedit-dev).
find_path(IK_EDITLINE_INCLUDE editline/readline.h)
find_library(IK_EDIT_LIBRARY edit)
if(IK_EDITLINE_INCLUDE AND IK_EDIT_LIBRARY)
  target_compile_definitions(irqkit-tool PRIVATE IK_HAVE_LIBEDIT)
  target_include_directories(irqkit-tool PRIVATE ${IK_EDITLINE_INCLUDE})
  target_link_libraries(irqkit-tool PRIVATE ${IK_EDIT_LIBRARY})
endif()

# ---- Tests: examples must pass, bad input must be reported as such ----
set(IK_TOOL_TESTS ${CMAKE_SOURCE_DIR}/tests/tool)
add_test(NAME tool_default COMMAND irqkit-tool run --quiet)
file(GLOB IK_EXAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*.scn)
foreach(ex ${IK_EXAMPLES})
  get_filename_component(name ${ex} NAME_WE)
  add_test(NAME example_${name} COMMAND irqkit-tool run --quiet ${ex})
  set_tests_properties(example_${name} PROPERTIES LABELS tool TIMEOUT 300)
  if(name MATCHES "threaded")
    # Also in the TSan run of `make test` (label threaded).
    set_tests_properties(example_${name} PROPERTIES LABELS "tool;threaded")
  endif()
endforeach()
if(EXISTS ${IK_TOOL_TESTS}/run_cases.sh)
  add_test(NAME tool_cases
           COMMAND sh ${IK_TOOL_TESTS}/run_cases.sh $<TARGET_FILE:irqkit-tool> ${CMAKE_SOURCE_DIR})
  set_tests_properties(tool_cases PROPERTIES LABELS tool TIMEOUT 300)
endif()
find_program(IK_PYTHON3 python3)
if(IK_PYTHON3 AND EXISTS ${IK_TOOL_TESTS}/json_check.sh)
  add_test(NAME tool_json
           COMMAND sh ${IK_TOOL_TESTS}/json_check.sh $<TARGET_FILE:irqkit-tool> ${IK_PYTHON3}
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(tool_json PROPERTIES LABELS tool TIMEOUT 300)
endif()

# ---- libFuzzer over the scenario parser (clang; not with TSan) ----
if(CMAKE_C_COMPILER_ID MATCHES "Clang" AND NOT IK_TSAN AND EXISTS ${IK_TOOL_DIR}/fuzz/fuzz_scenario.c)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer")
  check_c_source_compiles("
    #include <stddef.h>
    #include <stdint.h>
    int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }"
    IK_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  if(IK_HAVE_LIBFUZZER)
    set(IK_FUZZ_SOURCES ${IK_TOOL_SOURCES})
    list(FILTER IK_FUZZ_SOURCES EXCLUDE REGEX "/main\\.c$")
    add_executable(fuzz_scenario ${IK_TOOL_DIR}/fuzz/fuzz_scenario.c ${IK_FUZZ_SOURCES}
                   ${IK_TOOL_DEFAULT_C})
    target_include_directories(fuzz_scenario PRIVATE ${IK_TOOL_DIR})
    if(IK_SANITIZE)
      set(IK_FUZZ_FLAGS -fsanitize=fuzzer)
    else()
      set(IK_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
    endif()
    target_compile_options(fuzz_scenario PRIVATE ${IK_WARN} ${IK_FUZZ_FLAGS})
    target_link_options(fuzz_scenario PRIVATE ${IK_FUZZ_FLAGS})
    target_link_libraries(fuzz_scenario PRIVATE iksim irqkit)
    set_target_properties(fuzz_scenario PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    # Brief run from a seed corpus of the examples (a fixed seed: reproducible).
    add_test(NAME fuzz_scenario
             COMMAND sh ${IK_TOOL_TESTS}/fuzz_run.sh $<TARGET_FILE:fuzz_scenario> ${CMAKE_SOURCE_DIR}
                     ${CMAKE_BINARY_DIR}/fuzz-corpus)
    set_tests_properties(fuzz_scenario PROPERTIES LABELS fuzz TIMEOUT 300)
  endif()
endif()
