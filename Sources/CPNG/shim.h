#pragma once
#include <png.h>

// Function-like macros and some constants of the simplified API do not import into Swift.
static const png_uint_32 vq_png_format_gray = PNG_FORMAT_GRAY;
static const png_uint_32 vq_png_format_ga = PNG_FORMAT_GA;
static const png_uint_32 vq_png_format_rgb = PNG_FORMAT_RGB;
static const png_uint_32 vq_png_format_rgba = PNG_FORMAT_RGBA;
static const int vq_png_image_version = PNG_IMAGE_VERSION;

static inline int vq_png_image_failed(png_imagep image) { return PNG_IMAGE_FAILED(*image); }
static inline png_uint_32 vq_png_image_channels(png_uint_32 format) { return PNG_IMAGE_PIXEL_CHANNELS(format); }
// The reason for the last failure (or warning), as a C string; `message` imports as a tuple of 64 CChars.
static inline const char *vq_png_image_message(const png_image *image) { return image->message; }
