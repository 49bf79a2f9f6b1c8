# SPDX-License-Identifier: BSD-2-Clause
# libFuzzer target over PCI MSI/MSI-X capability and table/PBA layouts
# (tests/fuzz/fuzz_msi.c), clang only, not with TSan.  The library is
# built a second time with coverage instrumentation (and ASan+UBSan) so the
# fuzzer sees src/pci and src/msi; the simulator gets the sanitizers only.
# Included from the top-level CMakeLists.txt after the library, simulator
# and test definitions.

set(IK_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
if(CMAKE_C_COMPILER_ID MATCHES "Clang" AND NOT IK_TSAN AND EXISTS ${IK_FUZZ_DIR}/fuzz_msi.c)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer")
  check_c_source_compiles("
    #include <stddef.h>
    #include <stdint.h>
    int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }"
    IK_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  if(IK_HAVE_LIBFUZZER)
    if(IK_SANITIZE)
      # ASan+UBSan come from the global options already.
      set(IK_FUZZ_SAN "")
    else()
      set(IK_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
    endif()

    add_library(irqkit_fuzz STATIC ${IK_LIB_SOURCES})
    target_include_directories(irqkit_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/include
                               PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_compile_options(irqkit_fuzz PRIVATE ${IK_WARN} -ffreestanding
                           -fsanitize=fuzzer-no-link ${IK_FUZZ_SAN})
    if(IK_LOCKDEP)
      target_compile_definitions(irqkit_fuzz PRIVATE IK_LOCKDEP)
    endif()

    add_library(iksim_fuzz STATIC ${IK_SIM_SOURCES})
    target_include_directories(iksim_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/sim ${CMAKE_SOURCE_DIR}/include)
    target_compile_options(iksim_fuzz PRIVATE ${IK_WARN} ${IK_FUZZ_SAN})
    target_compile_definitions(iksim_fuzz PUBLIC _GNU_SOURCE)
    target_link_libraries(iksim_fuzz PUBLIC irqkit_fuzz Threads::Threads)

    add_executable(fuzz_msi ${IK_FUZZ_DIR}/fuzz_msi.c)
    target_compile_options(fuzz_msi PRIVATE ${IK_WARN} -fsanitize=fuzzer ${IK_FUZZ_SAN})
    # The target checks every MMIO and configuration access the library makes.
    target_link_options(fuzz_msi PRIVATE -fsanitize=fuzzer ${IK_FUZZ_SAN}
                        -Wl,--wrap=ik_os_mmio_read32 -Wl,--wrap=ik_os_mmio_write32
                        -Wl,--wrap=ik_os_mmio_read64 -Wl,--wrap=ik_os_mmio_write64
                        -Wl,--wrap=ik_os_pci_cfg_read -Wl,--wrap=ik_os_pci_cfg_write)
    target_link_libraries(fuzz_msi PRIVATE iksim_fuzz irqkit_fuzz)
    set_target_properties(fuzz_msi PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

    add_executable(gen_msi_corpus ${IK_FUZZ_DIR}/gen_msi_corpus.c)
    target_include_directories(gen_msi_corpus PRIVATE ${CMAKE_SOURCE_DIR}/include)
    target_compile_options(gen_msi_corpus PRIVATE ${IK_WARN})
    set_target_properties(gen_msi_corpus PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

    # Brief run from the generated seeds plus the checked-in regressions
    # (tests/fuzz/corpus_msi/); a fixed seed, so a run is reproducible.
    add_test(NAME fuzz_msi
             COMMAND sh ${IK_FUZZ_DIR}/run_msi.sh $<TARGET_FILE:fuzz_msi>
                     $<TARGET_FILE:gen_msi_corpus> ${CMAKE_SOURCE_DIR}
                     ${CMAKE_BINARY_DIR}/fuzz-msi)
    set_tests_properties(fuzz_msi PROPERTIES LABELS fuzz TIMEOUT 300)
  endif()
endif()
