# The node's WebSocket codec (node/ws_*.c, node/ws.h): unit tests and the
# fuzzer of the server-facing decoder and handshake check. They compile the
# codec's sources directly (it needs only tr_core).
set(TR_WS_DIR ${CMAKE_SOURCE_DIR}/node)
set(TR_WS_SRC ${TR_WS_DIR}/ws_sha1.c ${TR_WS_DIR}/ws_hs.c ${TR_WS_DIR}/ws_frame.c)

tr_unit_test(test_node_ws SOURCES unit/test_ws.c ${TR_WS_SRC} LIBS tr_core TIMEOUT 30)
target_include_directories(test_node_ws PRIVATE ${TR_WS_DIR})

tr_fuzz_target(fuzz_ws fuzz/fuzz_ws.c tr_core)
if(TARGET fuzz_ws)
  target_sources(fuzz_ws PRIVATE ${TR_WS_SRC})
  target_include_directories(fuzz_ws PRIVATE ${TR_WS_DIR})
endif()

# A provider connection (node/pipe_ws.c) against a misbehaving server on the
# test's own loop: fragments, pings, a masked frame, a refused upgrade, a
# peer close and a silent server (~5 s, the ping timeout's seconds).
if(TARGET tr_node AND TARGET tr_storage)
  tr_unit_test(test_node_ws_conn SOURCES integration/test_node_ws_conn.c
               LIBS tr_node tr_storage TIMEOUT 90)
  target_include_directories(test_node_ws_conn PRIVATE ${CMAKE_SOURCE_DIR}/node)
endif()
