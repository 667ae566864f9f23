# Producer unit tests: the simulator, CSV/JSON-lines input, and the metrics helper.
ww_unit_test(test_producer_sim SOURCES test_producer_sim.c LIBS ww_producer)
ww_unit_test(test_producer_replay SOURCES test_producer_replay.c LIBS ww_producer)
ww_unit_test(test_metrics SOURCES test_metrics.c)
