/* yaml_tree.h: private to libwindwatch. A YAML document as a small tree. */
#ifndef WW_YAML_TREE_H
#define WW_YAML_TREE_H

#include <stddef.h>

typedef enum ww__ynode_type_e { WW_Y_SCALAR, WW_Y_MAP, WW_Y_SEQ } ww__ynode_type_t;

typedef struct ww__ynode_s ww__ynode_t;
struct ww__ynode_s {
  ww__ynode_type_t type;
  int line;            /* 1-based line where the node starts */
  char *scalar;        /* WW_Y_SCALAR: the text (owned) */
  int quoted;          /* WW_Y_SCALAR: written in quotes (so it is a string) */
  size_t n;            /* map entries or sequence items */
  char **keys;         /* WW_Y_MAP: key texts (owned) */
  int *key_lines;      /* WW_Y_MAP: line of each key */
  ww__ynode_t **items; /* values (map) or items (seq), owned */
};

/**
 * Parse \p len bytes of YAML. An empty document gives an empty map.
 * @returns the root (free with ww__ynode_free) or NULL with "line N: what" in errstr.
 */
ww__ynode_t *ww__yaml_parse(const char *buf, size_t len, char *errstr, size_t errstr_size);
void ww__ynode_free(ww__ynode_t *node);
/** Map lookup. @returns the value or NULL. */
const ww__ynode_t *ww__ynode_get(const ww__ynode_t *map, const char *key);

#endif /* WW_YAML_TREE_H */
