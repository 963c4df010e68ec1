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
endif()
