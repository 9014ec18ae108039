#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that have their own `main` (libFuzzer ≥ 12).
/// SwiftPM links every executable with `main` aliased to `<module>_main`, so each fuzz
/// target defines that and hands over to libFuzzer here.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

#endif
