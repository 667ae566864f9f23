# Processor integration tests on the real broker. Included from
# tests/integration/CMakeLists.txt.
ww_integration_test(it_processor_batch test_processor_batch.sh TIMEOUT 300)
ww_integration_test(it_processor_kill test_processor_kill.sh TIMEOUT 300)
ww_integration_test(it_processor_rebalance test_processor_rebalance.sh TIMEOUT 300)
ww_integration_test(it_processor_restore test_processor_restore.sh TIMEOUT 300)
ww_integration_test(it_processor_stop test_processor_stop.sh TIMEOUT 300)
ww_integration_test(it_processor_stall test_processor_stall.sh TIMEOUT 300)
ww_integration_test(it_processor_replay test_processor_replay.sh TIMEOUT 300)
ww_integration_test(it_processor_replay_count test_processor_replay.sh TIMEOUT 300
  ENV REPLAY_WINDOWS=count)
ww_integration_test(it_processor_backfill test_processor_backfill.sh TIMEOUT 300)
ww_integration_test(it_processor_late_topic test_processor_late_topic.sh TIMEOUT 300)
