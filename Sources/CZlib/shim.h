#pragma once
#include <zlib.h>
// inflateInit2 is a macro over inflateInit2_; Swift cannot import it.
static inline int vq_inflate_init_gzip(z_streamp stream) { return inflateInit2(stream, 15 + 32); }
