/* options.h: private to libwindwatch. The option tables of each binary. */
#ifndef WW_OPTIONS_H
#define WW_OPTIONS_H

#include "windwatch/config.h"

#define WW_NO_BOUNDS 1, 0 /* min > max: no numeric bounds */
#define WW_OPT_END                                                                                 \
  { NULL, 0, NULL, NULL, 0, NULL, NULL, 0, 0, NULL, NULL, 0 }

extern const ww_opt_t ww__opts_common[];    /* options.c */
extern const ww_opt_t ww__opts_producer[];  /* options_producer.c */
extern const ww_opt_t ww__opts_processor[]; /* options_processor.c */
extern const ww_opt_t ww__opts_sink[];      /* options_sink.c */
extern const ww_opt_t ww__opts_api[];       /* options_api.c */

#endif /* WW_OPTIONS_H */
