# Unit tests of the processor and of the common pieces it owns (stats,
# windows, Isolation Forest). Included from tests/unit/CMakeLists.txt.
ww_unit_test(test_stats SOURCES test_stats.c)
ww_unit_test(test_window SOURCES test_window.c)
ww_unit_test(test_processor_alert SOURCES test_processor_alert.c LIBS ww_processor)
ww_unit_test(test_processor_engine SOURCES test_processor_engine.c LIBS ww_processor)
ww_unit_test(test_iforest SOURCES test_iforest.c)
ww_unit_test(test_processor_handlers SOURCES test_processor_handlers.c LIBS ww_processor)
ww_unit_test(test_processor_batching SOURCES test_processor_batching.c LIBS ww_processor ww_producer)
ww_unit_test(test_processor_scored SOURCES test_processor_scored.c LIBS ww_processor)
