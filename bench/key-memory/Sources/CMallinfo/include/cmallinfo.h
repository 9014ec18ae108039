#include <stddef.h>

/// Heap bytes in use (glibc mallinfo2: uordblks + hblkhd), all arenas.
size_t key_memory_heap_in_use(void);
