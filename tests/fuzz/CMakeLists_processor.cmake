# windwatch-processor fuzz target (included from tests/fuzz/CMakeLists.txt):
# the count windows' counts read back from the committed offsets' metadata.
ww_fuzz_target(fuzz_counts SOURCES fuzz_counts.c CORPUS counts LIBS ww_processor)
