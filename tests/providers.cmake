# Tests of tr_providers: each adapter over the real recordings and over
# samples in the provider's published format, the sequencing code, and
# `tickraft-ctl normalize`; one libFuzzer target per adapter parser.
if(TARGET tr_providers)
  foreach(p coinbase binance kalshi native)
    tr_unit_test(test_adapter_${p} SOURCES unit/test_adapter_${p}.c LIBS tr_providers TIMEOUT 60)
    tr_fuzz_target(fuzz_adapter_${p} fuzz/fuzz_adapter_${p}.c tr_providers)
  endforeach()
  tr_unit_test(test_provider_seq SOURCES unit/test_provider_seq.c
               ${CMAKE_SOURCE_DIR}/node/ctl_normalize.c LIBS tr_providers TIMEOUT 60)
  list(APPEND TR_BENCH_LIBS tr_providers)
endif()
