# Tests of the node's operations modules: configuration, structured logging,
# metrics, the HTTP endpoint and `tickraft-ctl log dump`. They compile the
# node/ sources they test directly instead of linking tr_node, so that they
# depend only on tr_core (and tr_storage for the dump) and keep building
# while the rest of node/ is being written.
set(TR_NODEOPS_DIR ${CMAKE_SOURCE_DIR}/node)
set(TR_NODEOPS_CFG ${TR_NODEOPS_DIR}/config.c ${TR_NODEOPS_DIR}/config_values.c
    ${TR_NODEOPS_DIR}/config_write.c ${TR_NODEOPS_DIR}/nlog.c ${TR_NODEOPS_DIR}/nsched.c)

tr_unit_test(test_node_config SOURCES unit/test_config.c ${TR_NODEOPS_CFG}
             LIBS tr_core TIMEOUT 30)
target_include_directories(test_node_config PRIVATE ${TR_NODEOPS_DIR})
tr_unit_test(test_node_nlog SOURCES unit/test_config_nlog.c ${TR_NODEOPS_DIR}/nlog.c
             LIBS tr_core TIMEOUT 30)
target_include_directories(test_node_nlog PRIVATE ${TR_NODEOPS_DIR})
tr_unit_test(test_node_metrics SOURCES unit/test_metrics.c ${TR_NODEOPS_DIR}/metrics.c
             LIBS tr_core m TIMEOUT 60)
target_include_directories(test_node_metrics PRIVATE ${TR_NODEOPS_DIR})
tr_unit_test(test_node_http SOURCES unit/test_http.c ${TR_NODEOPS_DIR}/http.c
             ${TR_NODEOPS_DIR}/http_parse.c ${TR_NODEOPS_DIR}/metrics.c LIBS tr_core PkgConfig::UV m TIMEOUT 60)
target_include_directories(test_node_http PRIVATE ${TR_NODEOPS_DIR})
if(TARGET tr_storage)
  tr_unit_test(test_node_log_dump SOURCES unit/test_config_logdump.c ${TR_NODEOPS_DIR}/ctl_log.c
               LIBS tr_storage tr_core TIMEOUT 60)
endif()

# Fuzzers: the HTTP request parser (network input) and the config parser.
tr_fuzz_target(fuzz_http_request fuzz/fuzz_http_request.c tr_core PkgConfig::UV)
tr_fuzz_target(fuzz_config fuzz/fuzz_config.c tr_core)
if(TARGET fuzz_http_request)
  target_sources(fuzz_http_request PRIVATE ${TR_NODEOPS_DIR}/http_parse.c)
  target_sources(fuzz_config PRIVATE ${TR_NODEOPS_CFG})
  target_include_directories(fuzz_http_request PRIVATE ${TR_NODEOPS_DIR})
  target_include_directories(fuzz_config PRIVATE ${TR_NODEOPS_DIR})
endif()

# tickraft-bench nodeops (tests/bench/bench_nodeops.c) needs tr_node.
if(TARGET tr_node)
  list(APPEND TR_BENCH_LIBS tr_node)
endif()
