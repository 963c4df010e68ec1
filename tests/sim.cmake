# tickraft-sim tests: integration tests start the simulator as a process on
# a free loopback port (sim_harness.c) and stop it by pid.
if(TARGET tr_sim)
  set(TR_SIM_HARNESS integration/sim_harness.c)
  tr_unit_test(test_sim_dialects SOURCES integration/test_sim_dialects.c ${TR_SIM_HARNESS}
               LIBS tr_sim TIMEOUT 60)
  add_dependencies(test_sim_dialects tickraft-sim)
endif()
if(TARGET tr_sim)
  tr_unit_test(test_sim_faults SOURCES integration/test_sim_faults.c ${TR_SIM_HARNESS}
               LIBS tr_sim TIMEOUT 90)
  add_dependencies(test_sim_faults tickraft-sim)
endif()
if(TARGET tr_sim AND TARGET tr_providers)
  tr_unit_test(test_sim_truth SOURCES integration/test_sim_truth.c ${TR_SIM_HARNESS}
               LIBS tr_sim tr_providers TIMEOUT 90)
  add_dependencies(test_sim_truth tickraft-sim)
endif()
if(TARGET tr_sim)
  tr_unit_test(test_sim_replay SOURCES integration/test_sim_replay.c ${TR_SIM_HARNESS}
               LIBS tr_sim TIMEOUT 90)
  add_dependencies(test_sim_replay tickraft-sim)
endif()
if(TARGET tr_sim)
  list(APPEND TR_BENCH_LIBS tr_sim)
endif()
if(TARGET tr_sim)
  tr_unit_test(test_sim_gen SOURCES unit/test_sim_gen.c LIBS tr_sim TIMEOUT 30)
endif()
if(TARGET tr_sim AND TARGET tr_providers)
  tr_unit_test(test_sim_adapters SOURCES integration/test_sim_adapters.c ${TR_SIM_HARNESS}
               LIBS tr_sim tr_providers TIMEOUT 60)
  add_dependencies(test_sim_adapters tickraft-sim)
endif()
if(TARGET tr_sim)
  tr_unit_test(test_sim_rx SOURCES unit/test_sim_rx.c LIBS tr_sim TIMEOUT 60)
endif()
