# Sink integration tests on the real broker (the kafka fixture).
ww_integration_test(it_sink_batch test_sink_batch.sh TIMEOUT 300)
ww_integration_test(it_sink_kill test_sink_kill.sh TIMEOUT 600)
ww_integration_test(it_sink_faults test_sink_faults.sh TIMEOUT 400)
