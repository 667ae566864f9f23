/*
 * test_config_doc.c: docs/configuration.md is generated from the binaries'
 * own option tables, and this test fails when the file and the tables
 * differ, so the document cannot go stale. To refresh it after changing an
 * option: WW_UPDATE_DOCS=1 build/tests/test_config_doc
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/config.h"
#include "ww_test.h"

static char doc[256 * 1024];
static size_t doc_len;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(doc + doc_len, sizeof(doc) - doc_len, fmt, ap);
  va_end(ap);
  if (n > 0)
    doc_len += (size_t)n < sizeof(doc) - doc_len ? (size_t)n : sizeof(doc) - doc_len - 1;
}

static const char *type_name(const ww_opt_t *o) {
  switch (o->type) {
  case WW_OPT_STR: return "text";
  case WW_OPT_INT: return "integer";
  case WW_OPT_DOUBLE: return "number";
  case WW_OPT_BOOL: return "boolean";
  case WW_OPT_ENUM: return "one of";
  case WW_OPT_DURATION: return "duration";
  case WW_OPT_COUNT: return "counter";
  case WW_OPT_ACTION: return "action";
  }
  return "?";
}

/* Markdown-safe cell text: escape the pipe. */
static void cell(const char *s) {
  for (; s && *s; s++) {
    if (*s == '|')
      emit("\\|");
    else
      emit("%c", *s);
  }
}

static void render(void) {
  static const ww_role_t roles[] = {WW_ROLE_PRODUCER, WW_ROLE_PROCESSOR, WW_ROLE_SINK, WW_ROLE_API};
  emit("# windwatch configuration\n\n"
       "<!-- Generated from the option tables in common/src/options*.c by\n"
       "     tests/unit/test_config_doc.c, which fails when this file is stale.\n"
       "     Refresh: WW_UPDATE_DOCS=1 build/tests/test_config_doc -->\n\n"
       "Every setting can be given, lowest precedence first, as a built-in default (the\n"
       "shipped `config/windwatch.yaml`), in the YAML file passed with `--config` (or\n"
       "`WINDWATCH_CONFIG`), as a `WINDWATCH_*` environment variable, or as a flag.\n"
       "Unknown YAML keys and invalid values are errors naming the key, the value and\n"
       "the fix. `--dump-config` prints the effective value of every setting and where\n"
       "it came from. Durations take `ms`, `s`, `m`, `h` or `d` (a bare number is\n"
       "seconds).\n\n"
       "The factory itself (`company`, `facility`, `location`, `sensors`, `lines`) and\n"
       "`kafka.properties` (passed to librdkafka like `-X key=value`) are described in\n"
       "`config/windwatch.yaml`.\n");
  for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
    emit("\n## windwatch-%s\n\n| flag | environment | YAML key | type | default | "
         "description |\n|---|---|---|---|---|---|\n",
         ww_role_name(roles[r]));
    for (const ww_opt_t *o = ww_config_options(roles[r]); o->name; o++) {
      char env[128];
      size_t n = (size_t)snprintf(env, sizeof(env), "WINDWATCH_");
      for (const char *p = o->name; *p && n + 1 < sizeof(env); p++)
        env[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
      env[n] = '\0';
      if (o->short_flag && !o->name[1])
        emit("| `-%c` ", o->short_flag);
      else if (o->short_flag)
        emit("| `--%s`, `-%c` ", o->name, o->short_flag);
      else
        emit("| `--%s` ", o->name);
      if (o->alias)
        emit("(`--%s`) ", o->alias);
      if (o->type == WW_OPT_ACTION || (o->short_flag && !o->name[1]) || !strcmp(o->name, "config"))
        emit("| | ");
      else
        emit("| `%s` | ", env);
      if (o->yaml)
        emit("`%s` ", o->yaml);
      emit("| %s", type_name(o));
      if (o->type == WW_OPT_ENUM) {
        emit(" `");
        cell(o->choices);
        emit("`");
      }
      emit(" | %s%s%s | ", o->def ? "`" : "", o->def ? o->def : "", o->def ? "`" : "");
      cell(o->help);
      emit(" |\n");
    }
  }
}

int main(void) {
  char path[1024];
  const char *src = getenv("WW_SOURCE_DIR");
  static char file[256 * 1024];
  size_t n = 0;
  FILE *fp;
  render();
  CHECK(src != NULL);
  if (!src)
    return WW_TEST_RESULT();
  snprintf(path, sizeof(path), "%s/docs/configuration.md", src);
  if (getenv("WW_UPDATE_DOCS")) {
    fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
      CHECK_INT_EQ(fwrite(doc, 1, doc_len, fp), doc_len);
      fclose(fp);
      fprintf(stderr, "wrote %s\n", path);
    }
    return WW_TEST_RESULT();
  }
  fp = fopen(path, "rb");
  CHECK(fp != NULL);
  if (fp) {
    n = fread(file, 1, sizeof(file) - 1, fp);
    fclose(fp);
  }
  file[n] = '\0';
  if (n != doc_len || memcmp(file, doc, n) != 0) {
    size_t i = 0;
    while (i < n && i < doc_len && file[i] == doc[i])
      i++;
    fprintf(stderr,
            "docs/configuration.md differs from the option tables at byte %zu:\n"
            "  file:   %.80s\n  tables: %.80s\nrefresh it with WW_UPDATE_DOCS=1 %s\n",
            i, file + i, doc + i, "build/tests/test_config_doc");
  }
  CHECK(n == doc_len && memcmp(file, doc, n) == 0);
  return WW_TEST_RESULT();
}
