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
