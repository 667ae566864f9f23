# Sink integration tests on the real broker (the kafka fixture).
ww_integration_test(it_sink_batch test_sink_batch.sh TIMEOUT 300)
ww_integration_test(it_sink_kill test_sink_kill.sh TIMEOUT 600)
# test_sink_faults.sh holds three scenarios (WW_SINK_FAULTS; all of them when
# unset, as tests/faults/run runs it): the size-limited file and the locked
# database need no privileges; the small tmpfs needs root or user namespaces
# and fails, saying so, where it cannot mount.
ww_integration_test(it_sink_faults test_sink_faults.sh TIMEOUT 400)
set_property(TEST it_sink_faults APPEND PROPERTY ENVIRONMENT "WW_SINK_FAULTS=fsize locked")
ww_integration_test(it_sink_diskfull test_sink_faults.sh TIMEOUT 300)
set_property(TEST it_sink_diskfull APPEND PROPERTY ENVIRONMENT "WW_SINK_FAULTS=tmpfs")
