# The durable log (storage/): unit tests, the kill -9 crash test with its
# child program, the segment fuzzer and the storage benchmark.
tr_unit_test(test_log SOURCES unit/test_log.c LIBS tr_storage TIMEOUT 300)
target_include_directories(test_log PRIVATE ${CMAKE_SOURCE_DIR}/storage)
tr_unit_test(test_log_sync SOURCES unit/test_log_sync.c LIBS tr_storage TIMEOUT 120)
tr_unit_test(test_log_overlap SOURCES unit/test_log_overlap.c LIBS tr_storage TIMEOUT 60)
tr_unit_test(test_log_recompress SOURCES unit/test_log_recompress.c LIBS tr_storage TIMEOUT 300)
tr_unit_test(test_log_prezero SOURCES unit/test_log_prezero.c LIBS tr_storage TIMEOUT 120)

add_executable(log_crash_child integration/log_crash_child.c)
target_link_libraries(log_crash_child PRIVATE tr_storage Threads::Threads)
target_include_directories(log_crash_child PRIVATE ${CMAKE_SOURCE_DIR}/tests)
set_target_properties(log_crash_child PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
tr_unit_test(test_log_crash SOURCES unit/test_log_crash.c LIBS tr_storage TIMEOUT 600)
add_dependencies(test_log_crash log_crash_child)

tr_fuzz_target(fuzz_log_segment fuzz/fuzz_log_segment.c tr_storage)

list(APPEND TR_BENCH_LIBS tr_storage)
