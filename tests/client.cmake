# Client SDK, wire protocol and the node's publisher (clients/, node/pub_*.c).
if(TARGET tr_client)
  tr_unit_test(test_client_proto SOURCES unit/test_client_proto.c LIBS tr_client TIMEOUT 30)
endif()
if(TARGET tr_client AND TARGET tr_node AND TARGET tr_storage)
  tr_unit_test(test_client_pub_integration SOURCES integration/test_client_pub.c
               LIBS tr_node tr_client tr_storage TIMEOUT 180)
  target_include_directories(test_client_pub_integration PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
  list(APPEND TR_BENCH_LIBS tr_node tr_client tr_storage)
  tr_unit_test(test_client_pipeline SOURCES integration/test_client_pipeline.c
               LIBS tr_node tr_client tr_storage TIMEOUT 60)
  target_include_directories(test_client_pipeline PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
  tr_unit_test(test_client_live SOURCES integration/test_client_live.c
               LIBS tr_node tr_client tr_storage TIMEOUT 60)
  target_include_directories(test_client_live PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
endif()
if(TARGET tr_client AND TARGET tr_node AND TARGET tr_storage AND TARGET tickraft-ctl)
  tr_unit_test(test_client_ctl_commands SOURCES integration/test_client_ctl.c
               LIBS tr_node tr_client tr_storage TIMEOUT 120)
  target_include_directories(test_client_ctl_commands PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
  add_dependencies(test_client_ctl_commands tickraft-ctl)
  if(EXISTS ${CMAKE_SOURCE_DIR}/examples/CMakeLists.txt)
    add_dependencies(test_client_ctl_commands tickraft-example-vwap)
  endif()
endif()
# kill -9 of a node process mid-stream (client_pubd stands in for the node)
if(TARGET tr_client AND TARGET tr_node AND TARGET tr_storage)
  add_executable(client_pubd integration/client_pubd.c)
  target_link_libraries(client_pubd PRIVATE tr_node tr_client tr_storage)
  target_include_directories(client_pubd PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
  set_target_properties(client_pubd PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  tr_unit_test(test_client_kill9 SOURCES integration/test_client_kill9.c
               LIBS tr_node tr_client tr_storage TIMEOUT 120)
  target_include_directories(test_client_kill9 PRIVATE ${CMAKE_SOURCE_DIR}/node
                             ${CMAKE_SOURCE_DIR}/tests/integration)
  add_dependencies(test_client_kill9 client_pubd)
  set_property(TEST test_client_kill9 APPEND PROPERTY ENVIRONMENT
               "TR_CLIENT_PUBD=${CMAKE_BINARY_DIR}/tests/client_pubd")
endif()
# The client path end to end against a real node and simulator: a
# subscriber (tickraft-ctl tail) rides through two kill -9 restarts of the
# node and what it received is checked against the simulator's truth.
# (tr-e2e-check is defined by pipeline.cmake, included after this file)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_check.c AND TARGET tickraft-node
   AND TARGET tickraft-sim AND TARGET tickraft-ctl)
  add_test(NAME e2e_client_subscriber_through_node_kill9_matches_truth
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/e2e_client_node.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_client_subscriber_through_node_kill9_matches_truth
                       PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE)
  # the same with a live subscriber (tail --live, protocol 1.2)
  add_test(NAME e2e_client_live_subscriber_through_node_kill9_matches_truth
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/e2e_client_node.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_client_live_subscriber_through_node_kill9_matches_truth
                       PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE ENVIRONMENT "E2E_LIVE=1")
  # ... and across emulated machine crashes: the node loses records the live
  # subscriber has shown (segment cut back to its last fsync after each kill)
  add_test(NAME e2e_client_live_subscriber_through_node_power_loss_matches_truth
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/e2e_client_node.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_client_live_subscriber_through_node_power_loss_matches_truth
                       PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
                       ENVIRONMENT "E2E_LIVE=1;E2E_POWERLOSS=1")
endif()
