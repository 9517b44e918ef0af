/*
 * LD_PRELOAD: counts malloc, calloc and realloc calls (all threads) and
 * writes the count to $SB_MALLOC_COUNT_FILE at exit. For alloc_per_check.sh:
 * how many allocations a request costs the server in the steady state.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static atomic_ulong allocations;

void *malloc(size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(p, size);
}

__attribute__((destructor)) static void malloc_count_report(void)
{
    const char *path = getenv("SB_MALLOC_COUNT_FILE");
    FILE *f = path != NULL ? fopen(path, "w") : NULL;
    if (f == NULL)
        return;
    fprintf(f, "%lu\n", atomic_load(&allocations));
    fclose(f);
}
