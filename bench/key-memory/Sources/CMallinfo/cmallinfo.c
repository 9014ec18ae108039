#include <malloc.h>
#include "cmallinfo.h"

size_t key_memory_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}
