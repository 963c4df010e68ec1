# The node's operator commands (node/pipe_admin.c, pipe_bfjob.c):
# feeds pause/resume, backfill jobs, raw capture, against tickraft-sim.
# (tr-e2e-check is defined by pipeline.cmake, included after this file)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_check.c AND TARGET tickraft-node
   AND TARGET tickraft-sim AND TARGET tickraft-ctl)
  add_test(NAME e2e_node_admin_pause_resume_backfill_no_hole_no_dup
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_admin.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_admin_pause_resume_backfill_no_hole_no_dup PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  add_test(NAME e2e_node_raw_capture_dump_renormalise_replay
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_raw.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_raw_capture_dump_renormalise_replay PROPERTIES
                       TIMEOUT 60 RUN_SERIAL TRUE)
endif()

# The publisher's request decoder (node/pub_server.c pub_handle), fuzzed
# with a small real log behind it.
if(TARGET tr_node)
  tr_fuzz_target(fuzz_pub_request fuzz/fuzz_pub_request.c tr_node)
  if(TARGET fuzz_pub_request)
    target_include_directories(fuzz_pub_request PRIVATE ${CMAKE_SOURCE_DIR}/node)
  endif()
endif()

# TLS between the SDK and the publisher; the test makes its certificates
# with the openssl command line.
if(TARGET tr_client AND TARGET tr_node AND TARGET tr_storage)
  tr_unit_test(test_client_tls SOURCES integration/test_client_tls.c
               LIBS tr_node tr_client tr_storage TIMEOUT 60)
  target_include_directories(test_client_tls PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
endif()
