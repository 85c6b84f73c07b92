// libFuzzer's entry for a program with a main of its own (compiler-rt's FuzzerInterface.h).
// SwiftPM links an executable's main under the module's name, so the fuzzers are ordinary
// Swift programs that hand their function to libFuzzer's driver.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
