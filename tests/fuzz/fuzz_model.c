/*
 * fuzz_model.c: the model deserializer (models arrive from the models topic
 * and from files) must reject any input cleanly; a model it accepts must
 * score without crashing, give scores in 0..1, and survive a round trip.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/iforest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  ww_iforest_t *f = ww_iforest_from_json((const char *)data, size, err, sizeof(err));
  if (f && ww_iforest_dims(f) > 64) {
    ww_iforest_destroy(f); /* wider than the probe row below; loading it was the test */
    f = NULL;
  }
  if (f) {
    double x[64], s;
    size_t len;
    char *json;
    for (int i = 0; i < 64; i++)
      x[i] = (double)((i * 7919) % 101) - 50.0;
    s = ww_iforest_score(f, x);
    if (!(s >= 0.0 && s <= 1.0) && !isnan(s))
      abort();
    json = ww_iforest_to_json(f, &len);
    if (json) {
      ww_iforest_t *g = ww_iforest_from_json(json, len, err, sizeof(err));
      if (!g || ww_iforest_score(g, x) != s)
        abort(); /* what we write we must read back, scoring the same */
      ww_iforest_destroy(g);
      free(json);
    }
    ww_iforest_destroy(f);
  }
  return 0;
}
