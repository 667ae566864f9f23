# windwatch-api fuzz target (included from tests/fuzz/CMakeLists.txt): the
# parsers of query values, static paths and POST /api/predict bodies.
ww_fuzz_target(fuzz_http SOURCES fuzz_http.c CORPUS http LIBS ww_api)
