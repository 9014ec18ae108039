// Declarations only: LLVMFuzzerRunDriver comes from the libFuzzer runtime that
// `-sanitize=fuzzer` links in.
#include "CFuzzDriver.h"
