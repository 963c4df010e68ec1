# Actor runtime tests (actors/): runtime, supervision, process actors.
if(TARGET tr_actors)
  tr_unit_test(test_actor_runtime SOURCES unit/test_actor.c LIBS tr_actors TIMEOUT 120)
  list(APPEND TR_BENCH_LIBS tr_actors nng::nng)
endif()
