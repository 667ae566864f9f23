/* yaml_tree.c: libyaml events → a small owned tree. Aliases are refused. */
#include "yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define WW_YAML_MAX_DEPTH 32 /* a config deeper than this is a mistake or an attack */

typedef struct yp_s {
  yaml_parser_t parser;
  char *errstr;
  size_t errstr_size;
} yp_t;

static ww__ynode_t *node_new(ww__ynode_type_t type, int line) {
  ww__ynode_t *n = calloc(1, sizeof(*n));
  if (n) {
    n->type = type;
    n->line = line;
  }
  return n;
}

void ww__ynode_free(ww__ynode_t *node) {
  if (!node)
    return;
  for (size_t i = 0; i < node->n; i++) {
    if (node->keys)
      free(node->keys[i]);
    ww__ynode_free(node->items[i]);
  }
  free(node->keys);
  free(node->key_lines);
  free(node->items);
  free(node->scalar);
  free(node);
}

const ww__ynode_t *ww__ynode_get(const ww__ynode_t *map, const char *key) {
  if (!map || map->type != WW_Y_MAP)
    return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (strcmp(map->keys[i], key) == 0)
      return map->items[i];
  return NULL;
}

static int next_event(yp_t *yp, yaml_event_t *ev) {
  if (!yaml_parser_parse(&yp->parser, ev)) {
    snprintf(yp->errstr, yp->errstr_size, "line %zu: %s%s%s", yp->parser.problem_mark.line + 1,
             yp->parser.problem ? yp->parser.problem : "invalid YAML",
             yp->parser.context ? " " : "", yp->parser.context ? yp->parser.context : "");
    return -1;
  }
  return 0;
}

static int push_item(ww__ynode_t *parent, char *key, int key_line, ww__ynode_t *item) {
  size_t n = parent->n + 1;
  ww__ynode_t **items = realloc(parent->items, n * sizeof(*items));
  if (!items)
    return -1;
  parent->items = items;
  if (parent->type == WW_Y_MAP) {
    char **keys = realloc(parent->keys, n * sizeof(*keys));
    int *lines;
    if (!keys)
      return -1;
    parent->keys = keys;
    lines = realloc(parent->key_lines, n * sizeof(*lines));
    if (!lines)
      return -1;
    parent->key_lines = lines;
    keys[parent->n] = key;
    lines[parent->n] = key_line;
  }
  items[parent->n] = item;
  parent->n = n;
  return 0;
}

/* Build the node that starts with event \p ev (already consumed). */
static ww__ynode_t *build(yp_t *yp, yaml_event_t *ev, int depth) {
  ww__ynode_t *node = NULL;
  yaml_event_t child;
  int line = (int)ev->start_mark.line + 1;

  if (depth > WW_YAML_MAX_DEPTH) {
    snprintf(yp->errstr, yp->errstr_size, "line %d: nesting deeper than %d levels", line,
             WW_YAML_MAX_DEPTH);
    return NULL;
  }
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    node = node_new(WW_Y_SCALAR, line);
    if (!node ||
        !(node->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length)))
      goto nomem;
    if (strlen(node->scalar) != ev->data.scalar.length) {
      snprintf(yp->errstr, yp->errstr_size, "line %d: NUL byte inside a value", line);
      goto err;
    }
    node->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                   ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    return node;
  case YAML_ALIAS_EVENT:
    snprintf(yp->errstr, yp->errstr_size, "line %d: YAML aliases (*name) are not supported", line);
    return NULL;
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT: {
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    node = node_new(is_map ? WW_Y_MAP : WW_Y_SEQ, line);
    if (!node)
      goto nomem;
    for (;;) {
      char *key = NULL;
      int key_line = 0;
      ww__ynode_t *item;
      if (next_event(yp, &child) != 0)
        goto err;
      if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(&child);
        return node;
      }
      if (is_map) {
        key_line = (int)child.start_mark.line + 1;
        if (child.type != YAML_SCALAR_EVENT) {
          snprintf(yp->errstr, yp->errstr_size, "line %d: map keys must be plain words", key_line);
          yaml_event_delete(&child);
          goto err;
        }
        key = strndup((const char *)child.data.scalar.value, child.data.scalar.length);
        yaml_event_delete(&child);
        if (!key)
          goto nomem;
        if (ww__ynode_get(node, key)) {
          snprintf(yp->errstr, yp->errstr_size, "line %d: key '%s' appears twice", key_line, key);
          free(key);
          goto err;
        }
        if (next_event(yp, &child) != 0) {
          free(key);
          goto err;
        }
      }
      item = build(yp, &child, depth + 1);
      yaml_event_delete(&child);
      if (!item) {
        free(key);
        goto err;
      }
      if (push_item(node, key, key_line, item) != 0) {
        free(key);
        ww__ynode_free(item);
        goto nomem;
      }
    }
  }
  default:
    snprintf(yp->errstr, yp->errstr_size, "line %d: unexpected YAML event", line);
    return NULL;
  }
nomem:
  snprintf(yp->errstr, yp->errstr_size, "out of memory");
err:
  ww__ynode_free(node);
  return NULL;
}

ww__ynode_t *ww__yaml_parse(const char *buf, size_t len, char *errstr, size_t errstr_size) {
  yp_t yp = {.errstr = errstr, .errstr_size = errstr_size};
  yaml_event_t ev;
  ww__ynode_t *root = NULL;

  if (!yaml_parser_initialize(&yp.parser)) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  yaml_parser_set_input_string(&yp.parser, (const unsigned char *)buf, len);
  for (;;) {
    if (next_event(&yp, &ev) != 0)
      goto err;
    if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
      yaml_event_delete(&ev);
      continue;
    }
    if (root) { /* a second root node cannot happen inside one document */
      yaml_event_delete(&ev);
      break;
    }
    root = build(&yp, &ev, 0);
    yaml_event_delete(&ev);
    if (!root)
      goto err;
  }
  yaml_parser_delete(&yp.parser);
  if (!root)
    root = node_new(WW_Y_MAP, 1);
  if (!root)
    snprintf(errstr, errstr_size, "out of memory");
  else if (root->type != WW_Y_MAP) {
    snprintf(errstr, errstr_size, "line %d: the document must be a map of settings", root->line);
    ww__ynode_free(root);
    return NULL;
  }
  return root;
err:
  yaml_parser_delete(&yp.parser);
  ww__ynode_free(root);
  return NULL;
}
