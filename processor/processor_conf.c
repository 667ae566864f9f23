/* processor_conf.c: the engine's settings from the configuration. */
#include <stdio.h>
#include <string.h>

#include "processor.h"

int ww_proc_conf_load(const ww_config_t *cfg, ww_proc_conf_t *pc, char *errstr,
                      size_t errstr_size) {
  const char *wt = ww_config_str(cfg, "window-type");
  ww_proc_conf_defaults(pc);
  pc->window_type = wt && strcmp(wt, "count") == 0 ? WW_WINDOW_COUNT : WW_WINDOW_TIME;
  pc->window_size = ww_config_int(cfg, "window-size");
  pc->window_slide = ww_config_int(cfg, "window-slide");
  pc->allowed_lateness_ms = ww_config_duration_ms(cfg, "allowed-lateness");
  pc->trend_threshold = ww_config_double(cfg, "trend-threshold");
  pc->zscore_threshold = ww_config_double(cfg, "zscore-threshold");
  pc->alert_min_count = (int)ww_config_int(cfg, "alert-min-count");
  pc->alert_clear_count = (int)ww_config_int(cfg, "alert-clear-count");
  pc->stuck_count = (int)ww_config_int(cfg, "stuck-count");
  pc->model.train_size = (int)ww_config_int(cfg, "train-size");
  pc->model.retrain_ms = ww_config_duration_ms(cfg, "retrain-interval");
  pc->model.n_trees = (int)ww_config_int(cfg, "iforest-trees");
  pc->model.max_samples = (int)ww_config_int(cfg, "iforest-samples");
  pc->model.seed = (uint64_t)ww_config_int(cfg, "seed");
  pc->model.q_warning = ww_config_double(cfg, "score-warning-quantile");
  pc->model.q_critical = ww_config_double(cfg, "score-critical-quantile");
  pc->model.score_warning = ww_config_double(cfg, "score-warning");
  pc->model.score_critical = ww_config_double(cfg, "score-critical");
  pc->models_dir = ww_config_str(cfg, "models-dir");
  if (pc->model.q_critical < pc->model.q_warning) {
    snprintf(errstr, errstr_size,
             "score-critical-quantile (%g) must be >= score-warning-quantile (%g)",
             pc->model.q_critical, pc->model.q_warning);
    return -1;
  }
  if (pc->model.train_size > 0 && pc->model.train_size < 16) {
    snprintf(errstr, errstr_size, "train-size must be 0 (no model) or >= 16 readings (got %d)",
             pc->model.train_size);
    return -1;
  }
  if (pc->window_slide > pc->window_size) {
    snprintf(errstr, errstr_size,
             "window-slide must be <= window-size (got slide %lld, size %lld); "
             "use 0 or the size for tumbling windows",
             (long long)pc->window_slide, (long long)pc->window_size);
    return -1;
  }
  return 0;
}
