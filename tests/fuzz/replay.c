/*
 * replay.c: runs a fuzz target over every file of its seed corpus, so the
 * corpus is a regression test under the normal compiler (CTest label
 * "fuzz"); `make fuzz` builds the same targets with clang's libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  int files = 0;
  for (int a = 1; a < argc; a++) {
    DIR *d = opendir(argv[a]);
    struct dirent *de;
    if (!d) {
      fprintf(stderr, "replay: cannot open corpus %s\n", argv[a]);
      return 1;
    }
    while ((de = readdir(d))) {
      char path[4096];
      FILE *fp;
      uint8_t *buf;
      long n;
      if (de->d_name[0] == '.')
        continue;
      snprintf(path, sizeof(path), "%s/%s", argv[a], de->d_name);
      if (!(fp = fopen(path, "rb")))
        continue;
      fseek(fp, 0, SEEK_END);
      n = ftell(fp);
      fseek(fp, 0, SEEK_SET);
      buf = malloc(n > 0 ? (size_t)n : 1);
      if (buf && fread(buf, 1, (size_t)n, fp) == (size_t)n) {
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        files++;
      }
      free(buf);
      fclose(fp);
    }
    closedir(d);
  }
  fprintf(stderr, "replay: %d inputs, no crash\n", files);
  return files > 0 ? 0 : 1; /* an empty corpus tests nothing: fail */
}
