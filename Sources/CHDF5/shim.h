#pragma once
#include <hdf5.h>

// The HDF5 type and property-list "constants" are macros over globals that read -1 until H5open() runs,
// and Swift 6 cannot import them safely. Each is exposed as a function; the macro itself calls H5open().
static inline hid_t vq_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t vq_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t vq_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t vq_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t vq_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t vq_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t vq_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t vq_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t vq_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t vq_h5t_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t vq_h5t_std_u16le(void) { return H5T_STD_U16LE; }
static inline hid_t vq_h5t_std_u32le(void) { return H5T_STD_U32LE; }
static inline hid_t vq_h5t_std_u64le(void) { return H5T_STD_U64LE; }
static inline hid_t vq_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t vq_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t vq_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t vq_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t vq_h5s_all(void) { return H5S_ALL; }
static inline unsigned vq_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned vq_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned vq_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned vq_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline size_t vq_h5t_variable(void) { return H5T_VARIABLE; }

// Silences the HDF5-DIAG error stack for the calling thread (the setting is per thread).
static inline void vq_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// Version-dependent object visiting lives here so Swift never touches H5O_info_t.
typedef int (*vq_h5_visit_fn)(const char *name, int is_dataset, void *context);
struct vq_h5_visit_context { vq_h5_visit_fn fn; void *context; };
static inline herr_t vq_h5_visit_trampoline(hid_t obj, const char *name, const H5O_info_t *info, void *op_data) {
    (void)obj;
    struct vq_h5_visit_context *c = (struct vq_h5_visit_context *)op_data;
    return c->fn(name, info->type == H5O_TYPE_DATASET ? 1 : (info->type == H5O_TYPE_GROUP ? 0 : -1), c->context);
}
static inline herr_t vq_h5_visit(hid_t file, vq_h5_visit_fn fn, void *context) {
    struct vq_h5_visit_context c = { fn, context };
#if H5_VERSION_GE(1, 12, 0)
    return H5Ovisit3(file, H5_INDEX_NAME, H5_ITER_INC, vq_h5_visit_trampoline, &c, H5O_INFO_BASIC);
#else
    return H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, vq_h5_visit_trampoline, &c, H5O_INFO_BASIC);
#endif
}

// --- Checkpoints (VQCheckpoint) ---
static inline hid_t vq_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t vq_h5t_std_i8le(void) { return H5T_STD_I8LE; }
static inline hid_t vq_h5t_std_i16le(void) { return H5T_STD_I16LE; }
static inline hid_t vq_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t vq_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t vq_h5p_dataset_xfer(void) { return H5P_DATASET_XFER; }

// The 1.10 file format: superblock v3, object headers v2 and fixed-array chunk indexes all carry checksums,
// so metadata damage is detected instead of misread (HDF5 1.8 cannot read such files).
static inline herr_t vq_h5_use_checksummed_metadata(hid_t fapl) {
    return H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
}

// The number of attributes on an object (H5O_info_t changes in 1.12+, so it stays here).
static inline int vq_h5_attribute_count(hid_t object) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(object, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
#else
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
#endif
    return (int)info.num_attrs;
}

// Joins the descriptions on the calling thread's error stack ("; "-separated) into buf, innermost first.
// Call it right after the failing call: the next API call clears the stack.
struct vq_h5_error_text { char *buf; size_t cap; size_t used; };
static inline herr_t vq_h5_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
    (void)n;
    struct vq_h5_error_text *t = (struct vq_h5_error_text *)data;
    const char *d = (err && err->desc) ? err->desc : "";
    for (const char *p = (t->used ? "; " : ""); *p && t->used + 1 < t->cap; ++p) t->buf[t->used++] = *p;
    for (const char *p = d; *p && t->used + 1 < t->cap; ++p) t->buf[t->used++] = *p;
    t->buf[t->used] = 0;
    return 0;
}
static inline void vq_h5_error_describe(char *buf, size_t cap) {
    if (cap == 0) return;
    buf[0] = 0;
    struct vq_h5_error_text t = { buf, cap, 0 };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, vq_h5_error_walker, &t);
}

// Identifiers of any kind still open in the library (files, groups, datasets, types, attributes), for leak checks.
static inline ssize_t vq_h5_open_object_count(void) { return H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL); }
