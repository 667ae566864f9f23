# tests/sanitize/env.sh: sanitizer run-time options for the ASan+UBSan build
# (make test-sanitize). Sourced by tests/sanitize/run for every test and by
# tests/integration/lib.sh when the build under test is sanitized. A value
# already in the environment wins, so one run can add e.g. verbosity=1.
# shellcheck shell=bash

ww_sanitize_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# detect_leaks: LeakSanitizer at every exit (the default on x86-64 Linux,
#   stated so it cannot silently drop).
# detect_stack_use_after_return: also catches pointers into returned stack
#   frames.
# strict_string_checks: a string passed to strtol, strchr, ... must be
#   NUL-terminated within its allocation.
# Any report ends the process with exit code 1: halt_on_error is ASan's
# default, and UBSan is compiled with -fno-sanitize-recover=all.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:halt_on_error=1}
# Third-party leaks only, each one explained in the file.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ww_sanitize_dir/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset ww_sanitize_dir
