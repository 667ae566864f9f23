/*
 * api_static.c: the dashboard's files from --web-root, without path traversal.
 *
 * A path is served only if every segment is plain (no "..", no hidden
 * segment, no backslash), its extension is one of the known static types,
 * and its resolved real path lies inside the real web root (which also
 * refuses symlinks that point out of it). /vendor/uplot/ maps to the npm
 * package's dist/ directory, installed by `npm ci` beside the pages; nothing
 * else under node_modules/ is reachable.
 */
#include "api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  const char *ext;
  const char *type;
} types[] = {
  {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
  {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
  {".png", "image/png"},                 {".ico", "image/x-icon"},
  {".woff2", "font/woff2"},              {".txt", "text/plain; charset=utf-8"},
  {".webmanifest", "application/manifest+json"},
};

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot || strchr(dot, '/'))
    return NULL;
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (!strcmp(dot, types[i].ext))
      return types[i].type;
  return NULL;
}

/* Every segment plain: not empty, not starting with '.', no backslash or control byte. */
static int path_is_plain(const char *p) {
  if (p[0] != '/')
    return 0;
  for (const char *s = p + 1; *s;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || s[0] == '.')
      return 0;
    for (size_t i = 0; i < n; i++)
      if (s[i] == '\\' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
        return 0;
    s += n;
    if (*s == '/')
      s++;
  }
  return 1;
}

enum MHD_Result api_h_static(api_req_t *req, const char *path) {
  const char *root = req->api->conf.web_root;
  char want[PATH_MAX], real_root[PATH_MAX], real[PATH_MAX];
  const char *ctype, *sub = path;
  const char *prefix = "";
  struct stat sb;
  struct MHD_Response *resp;
  size_t rl;
  int fd;

  if (!req->is_get)
    return api_send_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET");
  if (!root || !path_is_plain(path) || !(ctype = content_type(path)) ||
      !strncmp(path, "/node_modules/", 14))
    goto not_found;
  if (!strncmp(path, "/vendor/uplot/", 14)) {
    prefix = "/node_modules/uplot/dist";
    sub = path + 13; /* keeps the leading '/' */
  }
  if (!realpath(root, real_root))
    goto not_found;
  if ((size_t)snprintf(want, sizeof(want), "%s%s%s", real_root, prefix, sub) >= sizeof(want))
    goto not_found;
  if (!realpath(want, real))
    goto not_found;
  rl = strlen(real_root);
  if (strncmp(real, real_root, rl) != 0 || real[rl] != '/')
    goto not_found;
  fd = open(real, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    goto not_found;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    goto not_found;
  }
  /* MHD owns fd from here and closes it with the response. */
  resp = MHD_create_response_from_fd((size_t)sb.st_size, fd);
  if (!resp) {
    close(fd);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  /* Pages revalidate so a new release shows at once; assets may be cached briefly. */
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                strstr(ctype, "text/html") ? "no-cache" : "public, max-age=300");
  return api_send_response(req, MHD_HTTP_OK, resp);
not_found:
  return api_send_error(req, MHD_HTTP_NOT_FOUND, "not found: %.200s", path);
}
