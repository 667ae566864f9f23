# Unit tests of the sink (no Kafka): row writers, offsets, faults, retention, schema.
ww_unit_test(test_sink_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sink_store.c LIBS ww_sink)
ww_unit_test(test_sink_schema SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sink_schema.c LIBS ww_sink)
