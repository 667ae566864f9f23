# windwatch-api unit tests (included from tests/unit/CMakeLists.txt).
ww_unit_test(test_api_util SOURCES test_api_util.c LIBS ww_api PkgConfig::CURL)

# Not a test: writes the fixed database the api integration and browser tests read.
add_executable(test_api_seed test_api_seed.c)
target_link_libraries(test_api_seed PRIVATE windwatch)
set_target_properties(test_api_seed PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
# /api/predict's window-context model features: known values, and the same
# scores as the processor's engine for every reading it scored with a model.
ww_unit_test(test_api_features SOURCES test_api_features.c LIBS ww_api ww_processor)
