/* fuzz_reading.c: the reading decoders must never crash, hang or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ww_config_t *cfg;
  ww_reading_t r;
  ww_score_t sc;
  char err[256], out[2048];
  if (!cfg) {
    char *argv[] = {"fuzz", NULL};
    cfg = ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 1, argv, err, sizeof(err));
    if (!cfg)
      abort();
  }
  const ww_factory_t *fac = ww_config_factory(cfg);
  if (ww_reading_decode(fac, (const char *)data, size, 0, &r, err, sizeof(err)) == WW_DLQ_NONE) {
    /* Whatever decodes must encode and decode again to the same reading. */
    ww_reading_t back;
    size_t n = ww_reading_encode(fac, &r, out, sizeof(out));
    if (n >= sizeof(out) ||
        ww_reading_decode(fac, out, n, 0, &back, err, sizeof(err)) != WW_DLQ_NONE ||
        back.ts_ms != r.ts_ms || back.present != r.present || back.line_idx != r.line_idx ||
        strcmp(back.component_id, r.component_id) != 0)
      abort();
    for (int i = 0; i < fac->n_sensors; i++)
      if ((r.present & (1u << i)) && back.values[i] != r.values[i])
        abort();
  }
  ww_reading_decode(fac, (const char *)data, size, WW_DECODE_TS_OPTIONAL | WW_DECODE_ALL_SENSORS,
                    &r, err, sizeof(err));
  ww_scored_decode(fac, (const char *)data, size, &r, &sc, err, sizeof(err));
  return 0;
}
