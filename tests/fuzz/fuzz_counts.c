/*
 * fuzz_counts.c: the count windows' counts come back from the committed
 * offsets' metadata, which any client of the consumer group can write. The
 * parser must reject what is not such a text cleanly; what it accepts must
 * seed a line and take readings without crashing, and a seeded line's
 * windows must count on from it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor.h"
#include "windwatch/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int noop_produce(void *opaque, ww_proc_out_t out, const char *key, size_t key_len,
                        const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  (void)opaque, (void)out, (void)key, (void)key_len, (void)val, (void)len, (void)hdrs, (void)n_hdrs;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ww_config_t *cfg;
  char err[256], text[4096];
  char *argv[] = {"fuzz_counts", NULL};
  ww_proc_conf_t pc;
  ww_proc_output_t out = {noop_produce, NULL, NULL, NULL, NULL};
  ww_proc_count_t c[WW_MAX_LINES];
  int64_t none[WW_MAX_COMPONENTS + 1] = {0};
  ww_proc_t *proc;
  int n;
  if (!cfg &&
      !(cfg = ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 1, argv, err, sizeof(err))))
    abort();
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_COUNT;
  pc.window_size = 60;
  pc.window_slide = 30;
  pc.model.train_size = 0;
  if (!(proc = ww_proc_new(ww_config_factory(cfg), &pc, &out, err, sizeof(err))))
    abort();
  n = ww_proc_counts_parse(proc, (const char *)data, size, c, WW_MAX_LINES, err, sizeof(err));
  if (n < -1 || n > WW_MAX_LINES)
    abort();
  for (int i = 0; i < n; i++) {
    const ww_line_def_t *ld;
    ww_proc_src_t src = {"sensor-data", 0, i, NULL, 0};
    size_t len;
    if (c[i].line < 0 || c[i].line >= ww_config_factory(cfg)->n_lines || c[i].added < 0 ||
        c[i].seq < 0)
      abort();
    if (ww_proc_counts_seed(proc, &c[i], 0, none) != 0)
      continue; /* (a line given twice has state the second time) */
    ld = &ww_config_factory(cfg)->lines[c[i].line];
    len = (size_t)snprintf(text, sizeof(text),
                           "{\"v\":1,\"production_line\":\"%s\",\"component_id\":\"%s\","
                           "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"sequence_number\":1,"
                           "\"temperature\":20,\"humidity\":40,\"sound_level\":60,"
                           "\"injected_anomaly\":null,\"episode_id\":null}",
                           ld->id, ld->components[0]);
    ww_proc_message(proc, text, len, &src);
    /* the line reads from partition 0 now: its counts went on by one */
    if (ww_proc_counts_save(proc, 0, text, sizeof(text)) >= sizeof(text) || !strstr(text, "\"n\":"))
      abort();
  }
  ww_proc_destroy(proc);
  return 0;
}
