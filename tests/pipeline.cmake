# The node's collection pipeline (node/pipe_*.c): the end-to-end checker,
# the deduplicator's unit test and the end-to-end fault test.
if(TARGET tr_storage)
  add_executable(tr-e2e-check e2e/e2e_check.c)
  target_link_libraries(tr-e2e-check PRIVATE tr_storage tr_core)
  set_target_properties(tr-e2e-check PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endif()

if(TARGET tr_node)
  tr_unit_test(test_pipeline_dedup SOURCES e2e/test_pipe_dedup.c LIBS tr_node TIMEOUT 60)
  target_include_directories(test_pipeline_dedup PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # regression: BOOK requests must name the instrument (Binance strlen(NULL))
  tr_unit_test(test_pipeline_rest_req SOURCES e2e/test_pipe_rest_req.c LIBS tr_node TIMEOUT 30)
  target_include_directories(test_pipeline_rest_req PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # Kalshi trade losses across rotations: which group a seq skip counts for
  tr_unit_test(test_pipeline_loss_rot SOURCES e2e/test_pipe_loss_rot.c LIBS tr_node TIMEOUT 30)
  target_include_directories(test_pipeline_loss_rot PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # TLS set-up: URLs to the pipeline, CA bundle checked, vhost per bundle
  tr_unit_test(test_pipeline_tls SOURCES e2e/test_pipe_tls.c LIBS tr_node TIMEOUT 30)
  target_include_directories(test_pipeline_tls PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # TLS over memory BIOs (for wss:// on lws raw connections): verified both ways
  tr_unit_test(test_pipeline_tlsmem SOURCES e2e/test_pipe_tlsmem.c LIBS tr_node TIMEOUT 30)
  target_include_directories(test_pipeline_tlsmem PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # the collector -> writer hand-off (batch messages, predicted LSNs)
  tr_unit_test(test_pipeline_wire SOURCES e2e/test_pipe_wire.c LIBS tr_node TIMEOUT 30)
  target_include_directories(test_pipeline_wire PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # the writer actor: epochs, checkpoints after durable, crash when out of step
  tr_unit_test(test_node_writer_actor SOURCES e2e/test_node_writer_actor.c LIBS tr_node TIMEOUT 60)
  target_include_directories(test_node_writer_actor PRIVATE ${CMAKE_SOURCE_DIR}/node)
  # the tree's child specs: the collector restarts with [node] dedup_backoff_*
  tr_unit_test(test_node_tree_spec SOURCES e2e/test_node_tree_spec.c LIBS tr_node TIMEOUT 30)
  target_include_directories(test_node_tree_spec PRIVATE ${CMAKE_SOURCE_DIR}/node)
endif()

# The end-to-end fault test per simulator dialect (each ~85 s, run
# serially). Native runs by default; -DTR_E2E_DIALECTS="native;binance;coinbase;kalshi"
# adds the others (docs/node.md says what each covers).
set(TR_E2E_DIALECTS "native" CACHE STRING "dialects the pipeline e2e test runs against")
if(TARGET tr-e2e-check AND TARGET tickraft-node AND TARGET tickraft-sim)
  foreach(d ${TR_E2E_DIALECTS})
    if(d STREQUAL "native")
      set(tname e2e_pipeline_faults_kill9_no_loss_no_dup)
    else()
      set(tname e2e_pipeline_${d}_faults_kill9_no_loss_no_dup)
    endif()
    add_test(NAME ${tname}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_pipeline.sh
                     ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests ${d})
    set_tests_properties(${tname} PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE)
  endforeach()
  # the policies that lose data on purpose (unknown market, limit, 401)
  add_test(NAME e2e_pipeline_policies_drop_shed_halt_are_explicit
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_pipeline_policies.sh
                   ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_pipeline_policies_drop_shed_halt_are_explicit PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # the supervision tree: collector and writer crashes restarted, no loss
  add_test(NAME e2e_pipeline_actor_crashes_restarted_no_loss_no_dup
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_pipeline_actors.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_pipeline_actor_crashes_restarted_no_loss_no_dup PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # the collector's loop actors: one connection and one poller fail, only they restart
  add_test(NAME e2e_node_loop_actor_crash_restarts_only_it_no_loss_no_dup
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_loop_actors.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_loop_actor_crash_restarts_only_it_no_loss_no_dup PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # one actor per provider socket: an overflow socket's, a rotation's new
  # one's and the primary's (mid-rotation) fail; only that socket restarts;
  # overflow sockets rotated make-before-break
  add_test(NAME e2e_node_conn_actor_per_socket_restarts_only_it_no_loss_no_dup
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_conn_actors.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_conn_actor_per_socket_restarts_only_it_no_loss_no_dup PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # a shed market asked for again on the active connection during a
  # rotation's overlap is subscribed on the new one too: collected after
  # the takeover
  add_test(NAME e2e_node_shed_during_rotation_reaches_new_conn_no_loss
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_shed_rotation.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_shed_during_rotation_reaches_new_conn_no_loss PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # a limit lowered by two markets at once (two refusals naming no market
  # for one request) sheds exactly two: no cascade, no reopen loop
  add_test(NAME e2e_node_shed_two_over_limit_sheds_two_no_loop_no_loss
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_shed_cascade.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_shed_two_over_limit_sheds_two_no_loop_no_loss PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # the log fails (fsync EIO): the writer stops the node, exit 3, data intact
  add_test(NAME e2e_node_log_eio_exits_3_acknowledged_data_intact
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_eio.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_log_eio_exits_3_acknowledged_data_intact PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # a hung collector: heartbeat bound, abandoned, restarted, no loss
  add_test(NAME e2e_node_hung_collector_restarted_no_loss_no_dup
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_hang.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_hung_collector_restarted_no_loss_no_dup PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # TLS to providers (own CA made with the openssl command line): wss + https
  # on two hosts collect with no loss; an unknown CA and a wrong host name
  # are refused, alerted and counted, nothing collected
  add_test(NAME e2e_node_tls_collects_refuses_unknown_ca_and_wrong_name
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_tls.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_tls_collects_refuses_unknown_ca_and_wrong_name PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # malformed WebSocket frames mid-stream (simulator badframe): counted,
  # logged, closed 1002/1009, reconnected, the hole repaired, no loss
  add_test(NAME e2e_node_badframe_closes_1002_1009_reconnects_no_loss
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_badframe.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_badframe_closes_1002_1009_reconnects_no_loss PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # exchange maintenance holds reconnects; failing snapshots are skipped
  add_test(NAME e2e_node_maintenance_waits_snapshot_skipped_no_loss
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_maint.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_maintenance_waits_snapshot_skipped_no_loss PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # Kalshi: the market list paged by cursor, maintenance, lost trades become gap events
  add_test(NAME e2e_node_kalshi_pages_maintenance_lost_trades_are_gaps
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_kalshi.sh
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(e2e_node_kalshi_pages_maintenance_lost_trades_are_gaps PROPERTIES
                       TIMEOUT 120 RUN_SERIAL TRUE)
  # binance, coinbase and kalshi dialects: limit shedding (refusals that
  # name no market), maintenance (binance: no resume time; others: announced)
  foreach(d binance coinbase kalshi)
    add_test(NAME e2e_node_${d}_shed_and_maintenance_no_loss
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/e2e_node_shed_maint.sh
                     ${CMAKE_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/tests ${d})
    set_tests_properties(e2e_node_${d}_shed_and_maintenance_no_loss PROPERTIES
                         TIMEOUT 120 RUN_SERIAL TRUE)
  endforeach()
endif()

# tickraft-bench ingest (bench/bench_ingest.c) runs tickraft-sim and
# tickraft-node as processes: it links nothing of ours.
