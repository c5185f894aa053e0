/*
 * Reference-counted immutable frames (see frame.h).
 */
#include "core/frame.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static atomic_uint_fast64_t created;

struct frame *frame_new(size_t len)
{
    assert(len <= UINT32_MAX);
    struct frame *f = xmalloc(sizeof(*f) + len);
    atomic_init(&f->refs, 1);
    f->len = (uint32_t)len;
    f->cursor = 0;
    atomic_fetch_add_explicit(&created, 1, memory_order_relaxed);
    return f;
}

struct frame *frame_new_copy(const void *p, size_t len)
{
    struct frame *f = frame_new(len);
    if (len)
        memcpy(f->data, p, len);
    return f;
}

struct frame *frame_ref(struct frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void frame_unref(struct frame *f)
{
    if (f == NULL)
        return;
    unsigned before = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before == 1)
        free(f);
}

uint64_t frame_created_total(void)
{
    return atomic_load_explicit(&created, memory_order_relaxed);
}
