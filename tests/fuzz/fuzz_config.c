/* fuzz_config.c: the YAML config loader must reject any input cleanly. */
#include <stdint.h>
#include <stdlib.h>

#include "windwatch/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  char *argv[] = {"fuzz", NULL};
  ww_role_t role = size ? (ww_role_t)(1u << (data[0] % 4)) : WW_ROLE_SINK;
  ww_config_t *cfg =
      ww_config_load_yaml(role, (const char *)data, size, "fuzz.yaml", 1, argv, err, sizeof(err));
  if (cfg) {
    const ww_factory_t *fac = ww_config_factory(cfg);
    if (fac->n_lines < 1 || fac->n_sensors < 1)
      abort(); /* a loaded config always describes a factory */
  }
  ww_config_destroy(cfg);
  return 0;
}
