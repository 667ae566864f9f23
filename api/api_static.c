/*
 * api_static.c: the dashboard's files from --web-root, without path traversal.
 *
 * A path is served only if api_static_map() accepts it (every segment
 * plain: no "..", no hidden segment, no backslash; a known static type) and
 * its resolved real path lies inside the real web root (which also refuses
 * symlinks that point out of it). /vendor/uplot/ maps to the npm package's
 * dist/ directory, installed by `npm ci` beside the pages; nothing else
 * under node_modules/ is reachable.
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

enum MHD_Result api_h_static(api_req_t *req, const char *path) {
  const char *root = req->api->conf.web_root;
  char rel[PATH_MAX], want[PATH_MAX], real_root[PATH_MAX], real[PATH_MAX];
  const char *ctype;
  struct stat sb;
  struct MHD_Response *resp;
  size_t rl;
  int fd;

  if (!req->is_get)
    return api_send_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET");
  /* The lexical checks (api_parse.c, fuzzed); then the real path must still lie inside the root. */
  if (!root || api_static_map(path, rel, sizeof(rel), &ctype) != 0)
    goto not_found;
  if (!realpath(root, real_root))
    goto not_found;
  if ((size_t)snprintf(want, sizeof(want), "%s%s", real_root, rel) >= sizeof(want))
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
