# windwatch-api tests over real HTTP (included from tests/integration/CMakeLists.txt).
# They need no broker, but share the integration fixture and environment.
ww_integration_test(it_api_http test_api_http.sh TIMEOUT 300)

# The dashboard in a real browser (label "browser").
add_test(NAME browser_dashboard COMMAND bash ${PROJECT_SOURCE_DIR}/tests/browser/test_dashboard.sh)
ww_timeout(t 300)
set_tests_properties(browser_dashboard PROPERTIES LABELS browser TIMEOUT ${t}
  ENVIRONMENT "${WW_IT_ENV};WW_TEST_NAME=browser_dashboard")

# /api/predict feeding the pipeline through the real broker.
ww_integration_test(it_api_predict_kafka test_api_predict_kafka.sh TIMEOUT 300)

# An anomaly through the real pipeline (processor, sink, api) shows in the
# dashboard's alert feed in headless Chromium (label "browser"; needs the broker).
ww_integration_test(browser_pipeline test_api_browser_pipeline.sh TIMEOUT 300 LABELS browser)

# /api/predict scores stored readings exactly as the processor did (same
# model, same window-context features rebuilt from SQLite; needs the broker).
ww_integration_test(it_api_model_parity test_api_model_parity.sh TIMEOUT 300)
