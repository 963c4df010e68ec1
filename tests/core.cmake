# Tests of tr_core: decimals, JSON tokenizer, event encodings.
tr_unit_test(test_core_decimal SOURCES unit/test_decimal.c LIBS tr_core)
tr_unit_test(test_core_json SOURCES unit/test_json.c LIBS tr_core)
tr_unit_test(test_core_event_codec SOURCES unit/test_event_codec.c unit/event_gen.c LIBS tr_core)
tr_fuzz_target(fuzz_event_msgpack fuzz/fuzz_event_msgpack.c tr_core)
tr_fuzz_target(fuzz_event_json fuzz/fuzz_event_json.c tr_core)
