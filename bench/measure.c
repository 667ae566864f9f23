/*
 * measure.c: run one command and report its wall time, peak resident memory
 * and exit status, so that every system under test (windwatch binaries,
 * kcat, Python baselines) is timed and weighed the same way.
 *
 *   measure OUT -- COMMAND [ARGS...]
 *
 * Appends one line "wall_s maxrss_kb exit_code cpu_s" (cpu_s: user + system
 * time of the command and its waited-for children) to the file OUT and exits with
 * the command's exit code (128+signal if it was killed). stdin/stdout/stderr
 * are inherited: redirect them around this program. Wall time is
 * CLOCK_MONOTONIC from just before fork() to the reaping wait4(); peak RSS is
 * the child's ru_maxrss (kB on Linux), which covers only that process (a
 * shell's children are not counted, so run programs directly, not "sh -c").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *out_path;
  struct rusage ru;
  double t0, wall;
  int status = 0, code;
  pid_t pid;
  FILE *out;

  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: measure OUT -- COMMAND [ARGS...]\n");
    return 2;
  }
  out_path = argv[1];
  t0 = mono_s();
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "measure: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execvp(argv[3], argv + 3);
    fprintf(stderr, "measure: cannot run '%s': %s\n", argv[3], strerror(errno));
    _exit(127);
  }
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
      return 2;
    }
  }
  wall = mono_s() - t0;
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (!(out = fopen(out_path, "a"))) {
    fprintf(stderr, "measure: cannot open '%s': %s\n", out_path, strerror(errno));
    return 2;
  }
  fprintf(out, "%.6f %ld %d %.3f\n", wall, ru.ru_maxrss, code,
          (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
  if (fclose(out) != 0) {
    fprintf(stderr, "measure: cannot write '%s': %s\n", out_path, strerror(errno));
    return 2;
  }
  return code;
}
