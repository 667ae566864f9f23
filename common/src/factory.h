/* factory.h: private to libwindwatch. The factory part of the YAML config. */
#ifndef WW_FACTORY_H
#define WW_FACTORY_H

#include <stddef.h>

#include "windwatch/config.h"
#include "yaml_tree.h"

/**
 * Copy the scalar \p node into \p dst (\p size bytes) after checking it is an
 * id or name: 1..size-1 bytes, no quotes, backslashes or control characters.
 * @returns 0, or -1 with "config: <what> must be ..." in \p errstr.
 */
int ww__factory_copy_text(char *dst, size_t size, const ww__ynode_t *node, const char *what,
                          const char *file, char *errstr, size_t errstr_size);

/** Replace fac->sensors with the `sensors:` map. @returns 0 or -1 with \p errstr set. */
int ww__factory_parse_sensors(ww_factory_t *fac, const ww__ynode_t *map, const char *file,
                              char *errstr, size_t errstr_size);

/** Replace fac->lines with the `lines:` list (sensors must be parsed first). */
int ww__factory_parse_lines(ww_factory_t *fac, const ww__ynode_t *seq, const char *file,
                            char *errstr, size_t errstr_size);

#endif /* WW_FACTORY_H */
