# Operations kit: metrics of every binary against docs/operations.md, the Grafana
# dashboard and the Prometheus example (real broker, the kafka fixture).
ww_integration_test(it_ops_metrics test_ops_metrics.sh TIMEOUT 300)
